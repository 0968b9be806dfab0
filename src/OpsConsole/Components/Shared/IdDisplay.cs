using System.Globalization;

namespace OpsConsole.Components.Shared;

/// <summary>Which part of an id an operator needs to see to tell it from the ids beside it.</summary>
public static class IdDisplay
{
    /// <summary>Ids up to this long are shown whole.</summary>
    public const int WholeUpTo = 32;

    private const int Tail = 8;

    /// <summary>
    /// The distinguishing part of <paramref name="id"/>: a UUIDv7 starts with its timestamp, so ids made close together
    /// share their first characters and only the random tail tells them apart; other UUIDs are random from the start;
    /// short ids (numbers, most Stripe ids) are shown whole; long others keep their prefix and tail.
    /// </summary>
    public static string Distinguishing(string id)
    {
        if (Guid.TryParseExact(id, "D", out var guid))
        {
            var text = guid.ToString("D", CultureInfo.InvariantCulture);
            return guid.Version == 7 ? "…" + text[^Tail..] : text[..Tail] + "…";
        }

        if (id.Length <= WholeUpTo)
        {
            return id;
        }

        // Stripe-style ids: the type prefix (pi_, evt_, re_) says what it is, the tail which one.
        var prefix = id.IndexOf('_', StringComparison.Ordinal) is var underscore and > 0 and < 8 ? id[..(underscore + 1)] : "";
        return prefix + "…" + id[^Tail..];
    }
}
