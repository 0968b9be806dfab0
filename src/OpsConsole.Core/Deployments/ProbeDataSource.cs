using Microsoft.Extensions.Configuration;
using Npgsql;

namespace OpsConsole.Core.Deployments;

/// <summary>
/// The connection runbook checks run on: <c>ConnectionStrings:MarketplaceProbe</c>, a login that is a member of
/// <c>opsconsole_probe</c> only. Reachable through this type alone, so nothing else can run on it and no check can
/// run as the console's own (runtime) login. Unpooled: a check's session, with whatever it set, ends with it.
/// </summary>
public sealed class ProbeDataSource : IAsyncDisposable
{
    /// <summary>Name of the connection string.</summary>
    public const string ConnectionStringName = "MarketplaceProbe";

    private ProbeDataSource(NpgsqlDataSource? dataSource) => DataSource = dataSource;

    /// <summary>The checks' data source, or null when no probe login is configured (checks then fail, saying so).</summary>
    public NpgsqlDataSource? DataSource { get; }

    /// <summary>Builds the data source from <c>ConnectionStrings:MarketplaceProbe</c>, when set.</summary>
    public static ProbeDataSource Create(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return new ProbeDataSource(null);
        }

        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.ApplicationName ??= "OpsConsole.Checks";
        builder.ConnectionStringBuilder.Pooling = false;
        return new ProbeDataSource(builder.Build());
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DataSource?.DisposeAsync() ?? ValueTask.CompletedTask;
}
