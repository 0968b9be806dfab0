namespace OpsConsole.Core.Purchases;

/// <summary>A lead's seller as the commission sees it (partners' rates).</summary>
public sealed record PartnerRates(Guid Id, decimal? BaseCommissionRate, decimal? BonusCommissionRate, decimal? VerificationPassRate);

/// <summary>What a purchase item records about its partner's commission.</summary>
public sealed record ItemCommission(decimal Rate, decimal Amount, IReadOnlyList<string> Bonuses);

/// <summary>
/// The partner's commission on a sold lead, as the marketplace computes it (commission.service.ts, called by
/// route.ts): base rate (0.30 when unset), +0.10 when the lead is at most 7 days old at sale, +0.05 when the
/// partner's verification pass rate is at least 95, + the partner's bonus rate; at most 0.50; the amount is
/// price times rate, rounded to 4 decimals. In decimal here, where the app uses JavaScript numbers: the two
/// agree to the column's 4 decimals for every numeric(10,4) price.
/// </summary>
public static class Commission
{
    /// <summary>The commission on a lead sold at <paramref name="salePrice"/> at <paramref name="saleDate"/>.</summary>
    public static ItemCommission For(decimal salePrice, PartnerRates partner, DateTime leadCreatedAt, DateTime saleDate)
    {
        var rate = partner.BaseCommissionRate is { } b && b != 0 ? b : 0.30m;
        List<string> bonuses = [];
        if (Math.Floor((saleDate.ToUniversalTime() - leadCreatedAt.ToUniversalTime()).TotalDays) <= 7)
        {
            rate += 0.10m;
            bonuses.Add("fresh_sale");
        }

        if ((partner.VerificationPassRate ?? 0) >= 95)
        {
            rate += 0.05m;
            bonuses.Add("high_verification");
        }

        if ((partner.BonusCommissionRate ?? 0) > 0)
        {
            rate += partner.BonusCommissionRate!.Value;
            bonuses.Add("volume");
        }

        rate = Math.Min(rate, 0.50m);
        return new ItemCommission(rate, Math.Round(salePrice * rate, 4, MidpointRounding.AwayFromZero), bonuses);
    }

    /// <summary>The commission is held back this long before it is payable (commission_payable_at).</summary>
    public static readonly TimeSpan Holdback = TimeSpan.FromDays(14);
}
