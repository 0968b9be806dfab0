using Dapper;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Deployments;

/// <summary>Demo data for /deployments: one open run of the race-condition-fix runbook, partly worked through.</summary>
public sealed class DeploymentDemoSeed(NpgsqlDataSource dataSource, IDeploymentService deployments)
{
    /// <summary>The demo user who starts the run (one of the shell's demo accounts).</summary>
    public const string DemoEngineer = "engineer";

    /// <summary>
    /// Starts a run as <see cref="DemoEngineer"/> unless an INCOMPLETE one exists, fills the contacts and ticks the
    /// review items. Returns the open run's id. Safe from several processes at once: they queue on an advisory lock.
    /// </summary>
    public async Task<long> EnsureOpenRunAsync(CancellationToken cancellationToken)
    {
        await using var gate = await dataSource.OpenConnectionAsync(cancellationToken);
        await gate.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(hashtext('opsconsole.deployment-demo-seed'))", cancellationToken: cancellationToken));
        try
        {
            var open = await gate.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT id FROM ops.deployment_runs WHERE status = 'INCOMPLETE' ORDER BY id LIMIT 1", cancellationToken: cancellationToken));
            if (open is { } existing)
            {
                return existing;
            }

            // The seed's own identity, shown as the demo engineer: whoever signs in later is someone else to four-eyes.
            var actor = new OpsActor("demo:" + DemoEngineer, DemoEngineer, OpsRoles.Engineer, OpsPermissionTable.For(OpsRoles.Engineer));
            var started = await deployments.StartRunAsync(actor, RunbookCatalog.RaceConditionFixes, "Race-condition fixes (demo)", cancellationToken);
            var runId = started.Value;
            if (started.Refusal is { } refusal)
            {
                throw new InvalidOperationException("The demo deployment run could not be started: " + refusal.Message);
            }

            var run = (await deployments.GetRunAsync(actor, runId, cancellationToken)).Value!;
            var contacts = new Dictionary<string, string>
            {
                ["On-call engineer"] = DemoEngineer,
                ["Incident manager"] = "manager",
            };
            foreach (var field in run.Runbook.ContactFields.Where(f => contacts.ContainsKey(f.Label)))
            {
                await deployments.SetContactAsync(actor, runId, field.Key, contacts[field.Label], cancellationToken);
            }

            foreach (var item in run.Runbook.ItemsOf(SectionRole.PreDeployment).Take(3))
            {
                await deployments.SetItemAsync(actor, runId, item.Key, ItemState.Checked, null, null, cancellationToken);
            }

            return runId;
        }
        finally
        {
            await gate.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(hashtext('opsconsole.deployment-demo-seed'))", cancellationToken: CancellationToken.None));
        }
    }
}
