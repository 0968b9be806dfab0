using MudBlazor;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Components.Pages.Stripe;

/// <summary>How the Stripe page words times, counts and outcomes.</summary>
public static class StripeFormat
{
    public static string Count(long count, string one, string? many = null) => $"{count} {(count == 1 ? one : many ?? one + "s")}";

    public static string Ago(DateTimeOffset at, DateTimeOffset now) => $"{Span(now - at)} ago";

    public static string TimeLeft(DateTimeOffset? until, DateTimeOffset now) => until switch
    {
        null => "no expiry",
        { } end when end <= now => $"ran out {Span(now - end)} ago",
        { } end => $"{Span(end - now)} left",
    };

    public static Color Colour(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Completed => Color.Success,
        DeliveryOutcome.Duplicate or DeliveryOutcome.AlreadyCompleted => Color.Info,
        DeliveryOutcome.RefundRequired or DeliveryOutcome.Problem or DeliveryOutcome.Unavailable => Color.Warning,
        DeliveryOutcome.Rejected or DeliveryOutcome.Malformed => Color.Error,
        _ => Color.Default,
    };

    private static string Span(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        return span.TotalSeconds < 60 ? $"{(int)span.TotalSeconds} s"
            : span.TotalMinutes < 60 ? $"{(int)span.TotalMinutes} min {span.Seconds} s"
            : span.TotalHours < 48 ? $"{(int)span.TotalHours} h {span.Minutes} min"
            : $"{(int)span.TotalDays} days";
    }
}
