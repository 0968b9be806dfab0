using Microsoft.Extensions.Configuration;
using Npgsql;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// Where the metrics read: a read-only replica when <c>ConnectionStrings:MarketplaceReadOnly</c> is set, else the
/// console's primary data source. The replica's data source is reachable only through this type, so nothing that
/// must see the primary (locks, writes) can end up on it.
/// </summary>
public sealed class MetricsDataSource : IAsyncDisposable
{
    private readonly bool _owned;

    private MetricsDataSource(NpgsqlDataSource dataSource, bool isReplica)
    {
        DataSource = dataSource;
        IsReplica = isReplica;
        _owned = isReplica;
    }

    /// <summary>The data source the metrics queries use.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>True when the metrics read from the configured read-only connection string.</summary>
    public bool IsReplica { get; }

    /// <summary>The replica named by <c>ConnectionStrings:MarketplaceReadOnly</c> if set, else <paramref name="primary"/>.</summary>
    public static MetricsDataSource Create(IConfiguration configuration, NpgsqlDataSource primary)
    {
        var readOnly = configuration.GetConnectionString(MetricsOptions.ReadOnlyConnectionStringName);
        if (string.IsNullOrWhiteSpace(readOnly))
        {
            return new MetricsDataSource(primary, isReplica: false);
        }

        var builder = new NpgsqlDataSourceBuilder(readOnly);
        builder.ConnectionStringBuilder.ApplicationName ??= "OpsConsole.Metrics";
        // A connection string that points at a primary by mistake still cannot write through the metrics.
        const string readOnlyOption = "-c default_transaction_read_only=on";
        builder.ConnectionStringBuilder.Options = string.IsNullOrEmpty(builder.ConnectionStringBuilder.Options)
            ? readOnlyOption
            : builder.ConnectionStringBuilder.Options + " " + readOnlyOption;
        return new MetricsDataSource(builder.Build(), isReplica: true);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _owned ? DataSource.DisposeAsync() : ValueTask.CompletedTask;
}
