using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Core.Live;

namespace OpsConsole.Core.Credits;

/// <summary>Something changed in the credit journal of a workspace, in this instance or another.</summary>
/// <param name="WorkspaceId">The workspace; <see cref="Guid.Empty"/> for <see cref="Resync"/>.</param>
/// <param name="AdjustmentId">The adjustment; 0 for <see cref="Resync"/>.</param>
public sealed record CreditChange(Guid WorkspaceId, long AdjustmentId)
{
    /// <summary>Sent to every subscriber after the listener reconnected: changes may have been missed, reload.</summary>
    public static CreditChange Resync { get; } = new(Guid.Empty, 0);
}

/// <summary>The in-process fan-out of credit changes to open <c>/credits</c> pages.</summary>
public sealed class CreditEventHub(ILogger<CreditEventHub> logger) : EventHub<CreditChange>(logger);

/// <summary>LISTENs on <see cref="ChannelName"/> (notified by the journal's trigger, migration 0050) and publishes to the hub.</summary>
public sealed class CreditEventListener(
    NpgsqlDataSource dataSource, CreditEventHub hub, IOptions<CreditOptions> options, ILogger<CreditEventListener> logger)
    : ChannelListener(dataSource, ChannelName, () => options.Value.ListenerMaxReconnectDelay, logger)
{
    /// <summary>The channel the journal's trigger notifies.</summary>
    public const string ChannelName = "ops_credit_changes";

    /// <inheritdoc />
    protected override void OnNotification(string payload)
    {
        var parts = payload.Split(':');
        if (parts.Length == 2 && Guid.TryParse(parts[0], out var workspaceId) && long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var adjustmentId))
        {
            hub.Publish(new CreditChange(workspaceId, adjustmentId));
        }
        else
        {
            logger.LogWarning("Ignored a malformed credit notification '{Payload}'.", payload);
        }
    }

    /// <inheritdoc />
    protected override void OnReconnected() => hub.Publish(CreditChange.Resync);
}
