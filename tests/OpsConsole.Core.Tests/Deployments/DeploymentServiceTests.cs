using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using static OpsConsole.Core.Tests.Deployments.DeploymentTestKit;

namespace OpsConsole.Core.Tests.Deployments;

public sealed class DeploymentServiceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private ServiceProvider _services = null!;

    private NpgsqlDataSource Db => database.DataSource;

    private IDeploymentService Service => _services.GetRequiredService<IDeploymentService>();

    public Task InitializeAsync()
    {
        _services = Services(database.ConnectionString);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task Starting_a_run_stores_the_template_version_and_opens_the_timeline()
    {
        var runId = await StartAsync(Service);

        var run = await RunAsync(Service, runId);
        Assert.Equal(DeploymentStatus.Incomplete, run.Status);
        Assert.Equal("engineer", run.Started.UserName);
        Assert.Equal(_services.GetRequiredService<RunbookCatalog>().Find(RunbookCatalog.RaceConditionFixes)!.Runbook!.VersionHash, run.Runbook.VersionHash);
        var started = Assert.Single(run.Timeline);
        Assert.Equal(("engineer", "run.started"), (started.Actor, started.Action));
        Assert.Contains(run.Runbook.VersionHash, started.After, StringComparison.Ordinal);
        Assert.Equal("#engineering-critical", run.ContactOf(run.Runbook.ContactFields[1]));

        var list = await Service.ListRunsAsync(TestActors.Support, Ct);
        var summary = Assert.Single(list.Value!, r => r.Id == runId);
        Assert.Equal((0, run.Runbook.Items.Count, 0, 10), (summary.ItemsDone, summary.ItemsTotal, summary.ProbesPassing, summary.ProbesTotal));
    }

    [Fact]
    public async Task A_run_keeps_the_template_version_it_started_from_when_the_runbook_file_changes()
    {
        var folder = Directory.CreateTempSubdirectory("runbooks-");
        try
        {
            var file = Path.Combine(folder.FullName, "hotfix.md");
            await File.WriteAllTextAsync(file, "# Hotfix\n\n## Steps {role=steps}\n\n- [ ] Old step\n");
            await using var services = Services(database.ConnectionString, settings: new Dictionary<string, string?> { ["Deployments:RunbookDirectory"] = folder.FullName });
            var service = services.GetRequiredService<IDeploymentService>();
            var oldRun = await StartAsync(service, template: "hotfix");

            await File.WriteAllTextAsync(file, "# Hotfix\n\n## Steps {role=steps}\n\n- [ ] New step one\n- [ ] New step two\n");
            var newRun = await StartAsync(service, template: "hotfix");

            Assert.Equal(["Old step"], (await RunAsync(service, oldRun)).Runbook.Items.Select(i => i.Text));
            Assert.Equal(["New step one", "New step two"], (await RunAsync(service, newRun)).Runbook.Items.Select(i => i.Text));
            await using var connection = await Db.OpenConnectionAsync();
            Assert.Equal(2, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.deployment_templates WHERE slug = 'hotfix'"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_tick_records_who_and_when_raises_the_version_and_appends_before_and_after_to_the_timeline()
    {
        var runId = await StartAsync(Service);
        var item = (await RunAsync(Service, runId)).Runbook.Items[0];

        await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, item.Key, ItemState.Checked, null, 0, Ct));
        await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.NotApplicable, "  Covered by the review of PR 812  ", 1, Ct));

        var run = await RunAsync(Service, runId);
        var state = run.ItemStates[item.Key];
        Assert.Equal((ItemState.NotApplicable, "Covered by the review of PR 812", 2, "engineer"), (state.State, state.Reason, state.Version, state.UpdatedBy));
        Assert.InRange(state.UpdatedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        var events = run.Timeline.Where(e => e.Subject == item.Key).ToArray();
        Assert.Equal(["item.checked", "item.na"], events.Select(e => e.Action));
        Assert.Equal(["engineer2", "engineer"], events.Select(e => e.Actor));
        Assert.Contains("\"state\": \"unchecked\"", events[0].Before, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"na\"", events[1].After, StringComparison.Ordinal);
        Assert.Contains("Covered by the review of PR 812", events[1].After, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NA_without_a_reason_is_refused_and_nothing_changes()
    {
        var runId = await StartAsync(Service);
        var item = (await RunAsync(Service, runId)).Runbook.Items[0];
        var before = await FootprintAsync(Db, runId);

        var refusal = await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.NotApplicable, "   ", null, Ct), RefusalKind.Invalid);

        Assert.Contains("N/A needs a reason", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync(Db, runId));
        await using var connection = await Db.OpenConnectionAsync();
        // The table refuses it too, whoever writes.
        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "INSERT INTO ops.deployment_item_states (run_id, item_key, state, reason, updated_by) VALUES (@Id, @Key, 'na', '', 'x')",
            new { Id = runId, Key = item.Key }));
        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
    }

    [Fact]
    public async Task A_tick_on_an_item_someone_changed_meanwhile_is_refused_as_stale_and_names_them()
    {
        var runId = await StartAsync(Service);
        var item = (await RunAsync(Service, runId)).Runbook.Items[1];
        await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, item.Key, ItemState.Checked, null, 0, Ct));
        var before = await FootprintAsync(Db, runId);

        var refusal = await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.NotApplicable, "not needed", 0, Ct), RefusalKind.Conflict);

        Assert.StartsWith("engineer2 changed", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync(Db, runId));
    }

    [Fact]
    public async Task Unknown_runs_items_and_fields_are_refused_by_name()
    {
        var runId = await StartAsync(Service);

        await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, "no/such-item", ItemState.Checked, null, null, Ct), RefusalKind.NotFound);
        await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, 987654, "x", ItemState.Checked, null, null, Ct), RefusalKind.NotFound);
        await RefusedAsync(Service.SetContactAsync(TestActors.Engineer, runId, "contact-pager", "x", Ct), RefusalKind.NotFound);
        Assert.Equal(RefusalKind.NotFound, (await Service.StartRunAsync(TestActors.Engineer, "no-such-runbook", null, Ct)).Refusal!.Kind);
    }

    [Fact]
    public async Task A_user_without_the_permission_is_refused_on_every_direct_call_and_nothing_changes()
    {
        var runId = await StartAsync(Service);
        var run = await RunAsync(Service, runId);
        var before = await FootprintAsync(Db, runId);
        var nobody = TestActors.For("mallory", null);

        Assert.Equal(RefusalKind.Forbidden, (await Service.StartRunAsync(TestActors.Support, RunbookCatalog.RaceConditionFixes, null, Ct)).Refusal!.Kind);
        await RefusedAsync(Service.SetItemAsync(TestActors.Support, runId, run.Runbook.Items[0].Key, ItemState.Checked, null, null, Ct), RefusalKind.Forbidden);
        await RefusedAsync(Service.SetContactAsync(TestActors.Support, runId, run.Runbook.ContactFields[0].Key, "support", Ct), RefusalKind.Forbidden);
        Assert.Equal(RefusalKind.Forbidden, (await Service.RunProbesAsync(TestActors.Support, runId, null, Ct)).Refusal!.Kind);
        await RefusedAsync(Service.SignAsync(TestActors.Support, runId, SignOffKind.Deployed, Ct), RefusalKind.Forbidden);
        await RefusedAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Approved, Ct), RefusalKind.Forbidden);
        await RefusedAsync(Service.AddNoteAsync(nobody, runId, "hello", Ct), RefusalKind.Forbidden);
        Assert.Equal(RefusalKind.Forbidden, (await Service.GetRunAsync(nobody, runId, Ct)).Refusal!.Kind);
        Assert.Equal(RefusalKind.Forbidden, (await Service.ExportTimelineAsync(nobody, runId, Ct)).Refusal!.Kind);

        Assert.Equal(before, await FootprintAsync(Db, runId));
    }

    [Fact]
    public async Task The_verifier_cannot_be_the_deployer()
    {
        var runId = await StartAsync(Service);
        await RefusedAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Verified, Ct), RefusalKind.Rule);
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Deployed, Ct));
        var before = await FootprintAsync(Db, runId);

        var refusal = await RefusedAsync(Service.SignAsync(TestActors.For("ENGINEER", OpsRoles.Engineer, subject: "engineer"), runId, SignOffKind.Verified, Ct), RefusalKind.Forbidden);

        Assert.Contains("someone else must verify", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync(Db, runId));
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.Verified, Ct));
        var run = await RunAsync(Service, runId);
        Assert.Equal(("engineer", "engineer2"), (run.Deployed!.UserName, run.Verified!.UserName));
        await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Deployed, Ct), RefusalKind.Conflict);
    }

    [Fact]
    public async Task The_approver_can_be_neither_the_deployer_nor_the_verifier_even_with_the_approve_permission()
    {
        var runId = await StartAsync(Service, TestActors.Manager);
        await SucceedsAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Deployed, Ct));
        await SucceedsAsync(Service.SignAsync(TestActors.Admin, runId, SignOffKind.Verified, Ct));
        var before = await FootprintAsync(Db, runId);

        var asDeployer = await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct), RefusalKind.Forbidden);
        var asVerifier = await RefusedAsync(Service.SignAsync(TestActors.Admin, runId, SignOffKind.Approved, Ct), RefusalKind.Forbidden);

        Assert.Contains("manager deployed this run and cannot approve it", asDeployer.Message, StringComparison.Ordinal);
        Assert.Contains("admin verified this run and cannot approve it", asVerifier.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync(Db, runId));
        await using var connection = await Db.OpenConnectionAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "UPDATE ops.deployment_runs SET approved_by = 'Manager', approved_at = now(), status = 'COMPLETE' WHERE id = @Id", new { Id = runId }));
        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
    }

    [Fact]
    public async Task Approval_needs_every_final_item_and_every_check_and_lists_what_is_missing()
    {
        var runId = await StartAsync(Service);
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Deployed, Ct));
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.Verified, Ct));

        var nothingDone = await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct), RefusalKind.Rule);
        Assert.Contains("12 final-checklist items neither checked nor N/A", nothingDone.Message, StringComparison.Ordinal);
        Assert.Contains("10 checks not passing", nothingDone.Message, StringComparison.Ordinal);
        Assert.Contains("(never run)", nothingDone.Message, StringComparison.Ordinal);

        var final = (await RunAsync(Service, runId)).Runbook.ItemsOf(SectionRole.FinalChecklist);
        foreach (var item in final.SkipLast(1))
        {
            await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct));
        }

        await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, final[^1].Key, ItemState.NotApplicable, "No issues, no postmortem", null, Ct));
        var checksMissing = await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct), RefusalKind.Rule);
        Assert.DoesNotContain("final-checklist", checksMissing.Message, StringComparison.Ordinal);

        var probes = await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct);
        Assert.True(probes.Succeeded, probes.Refusal?.Message);
        Assert.All(probes.Value!, p => Assert.True(p.Verdict.Passed, $"{p.ProbeKey}: {p.Verdict.Message}"));

        await SucceedsAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct));
        var run = await RunAsync(Service, runId);
        Assert.Equal(DeploymentStatus.Complete, run.Status);
        Assert.Equal("manager", run.Approved!.UserName);
        var approved = run.Timeline[^1];
        Assert.Equal(("signoff.approved", "manager"), (approved.Action, approved.Actor));
        Assert.Contains("INCOMPLETE", approved.Before, StringComparison.Ordinal);
        Assert.Contains("COMPLETE", approved.After, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_complete_run_is_read_only_except_for_notes()
    {
        var runId = await CompleteRunAsync();
        var run = await RunAsync(Service, runId);
        var before = await FootprintAsync(Db, runId);

        var tick = await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, run.Runbook.Items[0].Key, ItemState.Unchecked, null, null, Ct), RefusalKind.Conflict);
        await RefusedAsync(Service.SetContactAsync(TestActors.Engineer, runId, run.Runbook.ContactFields[0].Key, "someone", Ct), RefusalKind.Conflict);
        Assert.Equal(RefusalKind.Conflict, (await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct)).Refusal!.Kind);
        await RefusedAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.RolledBack, Ct), RefusalKind.Conflict);

        Assert.Contains("COMPLETE (approved by manager", tick.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync(Db, runId));

        await SucceedsAsync(Service.AddNoteAsync(TestActors.Support, runId, "Customer support briefed.", Ct));
        var note = Assert.Single((await RunAsync(Service, runId)).Notes);
        Assert.Equal(("support", "Customer support briefed."), (note.Author, note.Body));
        await RefusedAsync(Service.AddNoteAsync(TestActors.Support, runId, "  ", Ct), RefusalKind.Invalid);
    }

    [Fact]
    public async Task The_rollback_needs_its_whole_section_done_then_marks_the_run_rolled_back()
    {
        var runId = await StartAsync(Service);
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Deployed, Ct));

        var notDone = await RefusedAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.RolledBack, Ct), RefusalKind.Rule);
        Assert.Contains("10 rollback items", notDone.Message, StringComparison.Ordinal);

        var rollback = (await RunAsync(Service, runId)).Runbook.ItemsOf(SectionRole.Rollback);
        foreach (var item in rollback)
        {
            var na = item.Text.StartsWith("Migration reverted", StringComparison.Ordinal);
            await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, item.Key, na ? ItemState.NotApplicable : ItemState.Checked, na ? "The migration was fine" : null, null, Ct));
        }

        await SucceedsAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.RolledBack, Ct));

        var run = await RunAsync(Service, runId);
        Assert.Equal(DeploymentStatus.RolledBack, run.Status);
        Assert.Equal("engineer2", run.RolledBack!.UserName);
        await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct), RefusalKind.Conflict);
        await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, run.Runbook.Items[0].Key, ItemState.Checked, null, null, Ct), RefusalKind.Conflict);
    }

    [Fact]
    public async Task A_run_nobody_signed_as_deployed_is_rolled_back_only_with_a_reason_which_the_timeline_keeps()
    {
        var runId = await StartAsync(Service);
        foreach (var item in (await RunAsync(Service, runId)).Runbook.ItemsOf(SectionRole.Rollback))
        {
            await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, item.Key, ItemState.NotApplicable, "Nothing went out", null, Ct));
        }

        var before = await FootprintAsync(Db, runId);
        var refused = await RefusedAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.RolledBack, Ct), RefusalKind.Rule);
        Assert.Contains("Nobody has signed this run as deployed", refused.Message, StringComparison.Ordinal);
        await RefusedAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.RolledBack, "oops", Ct), RefusalKind.Rule);
        Assert.Equal(before, await FootprintAsync(Db, runId));

        await SucceedsAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.RolledBack, "Deployed by hand at 02:10 without signing", Ct));

        var run = await RunAsync(Service, runId);
        Assert.Equal(DeploymentStatus.RolledBack, run.Status);
        Assert.Contains(run.Timeline, e => e.Action == "signoff.rolledback" && e.Summary.Contains("Deployed by hand at 02:10", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Contacts_are_edited_while_open_and_every_change_is_on_the_timeline()
    {
        var runId = await StartAsync(Service);
        var field = (await RunAsync(Service, runId)).Runbook.ContactFields.Single(f => f.Label == "Slack channel");

        await SucceedsAsync(Service.SetContactAsync(TestActors.Engineer, runId, field.Key, " #deploys ", Ct));
        await SucceedsAsync(Service.SetContactAsync(TestActors.Engineer, runId, field.Key, "#deploys", Ct));

        var run = await RunAsync(Service, runId);
        Assert.Equal("#deploys", run.ContactOf(field));
        var change = Assert.Single(run.Timeline, e => e.Action == "contact.updated");
        Assert.Contains("#engineering-critical", change.Before, StringComparison.Ordinal);
        await RefusedAsync(Service.SetContactAsync(TestActors.Engineer, runId, field.Key, new string('x', 201), Ct), RefusalKind.Invalid);
    }

    [Fact]
    public async Task Two_users_ticking_different_items_at_the_same_moment_keep_every_tick()
    {
        var runId = await StartAsync(Service);
        var items = (await RunAsync(Service, runId)).Runbook.Items;
        using var start = new ManualResetEventSlim();

        // Both users tick every other item in parallel, on many connections at once.
        var writes = items.Select((item, i) => Task.Run(async () =>
        {
            start.Wait();
            var actor = i % 2 == 0 ? TestActors.Engineer : TestActors.Engineer2;
            return await Service.SetItemAsync(actor, runId, item.Key, ItemState.Checked, null, 0, Ct);
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(writes);

        Assert.All(results, r => Assert.True(r.Succeeded, r.Refusal?.Message));
        var run = await RunAsync(Service, runId);
        Assert.Equal(items.Count, run.ItemsDone);
        Assert.All(items.Select((item, i) => (item, i)), x =>
            Assert.Equal(x.i % 2 == 0 ? "engineer" : "engineer2", run.ItemStates[x.item.Key].UpdatedBy));
        Assert.Equal(items.Count, run.Timeline.Count(e => e.Action == "item.checked"));
    }

    [Fact]
    public async Task Two_users_ticking_the_same_untouched_item_at_once_get_one_tick_and_one_stale_refusal()
    {
        var runId = await StartAsync(Service);
        var item = (await RunAsync(Service, runId)).Runbook.Items[2];
        using var start = new ManualResetEventSlim();

        var writes = new[] { TestActors.Engineer, TestActors.Engineer2 }.Select(actor => Task.Run(async () =>
        {
            start.Wait();
            return await Service.SetItemAsync(actor, runId, item.Key, ItemState.Checked, null, 0, Ct);
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(writes);

        Assert.Equal(1, results.Count(r => r.Succeeded));
        Assert.Equal(RefusalKind.Conflict, Assert.Single(results, r => !r.Succeeded).Refusal!.Kind);
        Assert.Equal(1, (await RunAsync(Service, runId)).ItemStates[item.Key].Version);
    }

    [Fact]
    public async Task A_tick_waiting_behind_an_approval_is_refused_once_the_run_is_complete()
    {
        var runId = await ReadyForApprovalAsync();
        var item = (await RunAsync(Service, runId)).Runbook.ItemsOf(SectionRole.FinalChecklist)[0];

        // Hold the run row as an approval does, start a tick, then let the approval commit.
        await using var approver = await Db.OpenConnectionAsync();
        await using var approval = await approver.BeginTransactionAsync();
        await approver.ExecuteAsync("SELECT 1 FROM ops.deployment_runs WHERE id = @Id FOR UPDATE", new { Id = runId }, approval);
        var tick = Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Unchecked, null, null, Ct);
        await WaitUntilBlockedAsync(runId);
        await approver.ExecuteAsync(
            "UPDATE ops.deployment_runs SET approved_by = 'manager', approved_at = now(), status = 'COMPLETE' WHERE id = @Id", new { Id = runId }, approval);
        await approval.CommitAsync();

        var result = await tick;

        Assert.Equal(RefusalKind.Conflict, result.Refusal?.Kind);
        Assert.Equal(ItemState.Checked, (await RunAsync(Service, runId)).StateOf(item.Key));
    }

    [Fact]
    public async Task The_timeline_refuses_updates_and_deletes()
    {
        var runId = await StartAsync(Service);
        await using var connection = await Db.OpenConnectionAsync();

        var update = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("UPDATE ops.deployment_events SET actor = 'x' WHERE run_id = @Id", new { Id = runId }));
        var delete = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("DELETE FROM ops.deployment_events WHERE run_id = @Id", new { Id = runId }));
        var truncate = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("TRUNCATE ops.deployment_events CASCADE"));

        Assert.All(new[] { update, delete, truncate }, e => Assert.Contains("append-only", e.MessageText, StringComparison.Ordinal));
        Assert.Single((await RunAsync(Service, runId)).Timeline);
    }

    [Fact]
    public async Task The_record_exports_as_markdown_and_the_timeline_as_csv()
    {
        var runId = await CompleteRunAsync();
        await SucceedsAsync(Service.AddNoteAsync(TestActors.Engineer, runId, "=HYPERLINK(\"http://x\") and, a comma", Ct));

        var record = (await Service.ExportRecordAsync(TestActors.Support, runId, Ct)).Value!;
        var csv = (await Service.ExportTimelineAsync(TestActors.Support, runId, Ct)).Value!;

        Assert.Contains("- Status: **COMPLETE**", record, StringComparison.Ordinal);
        Assert.Matches(@"\| Deployed by \| engineer \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \|", record);
        Assert.Matches(@"\| Verified by \| engineer2 \|", record);
        Assert.Matches(@"\| Approved by \| manager \|", record);
        Assert.Contains("- [N/A] Postmortem scheduled (if there were issues) — N/A by engineer2 at ", record, StringComparison.Ordinal);
        Assert.Contains(": No issues, no postmortem", record, StringComparison.Ordinal);
        Assert.Contains("| The four purchase functions exist | Should return 4 rows | PASS: 4 rows, as expected. | 4 |", record, StringComparison.Ordinal);

        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,at,actor,action,subject,summary,before,after", lines[0]);
        var run = await RunAsync(Service, runId);
        Assert.Equal(run.Timeline.Count + 1, lines.Length);
        Assert.Contains(",engineer,run.started,race-condition-fixes,", lines[1], StringComparison.Ordinal);
        Assert.Contains(",manager,signoff.approved,,", csv, StringComparison.Ordinal);
        // The note's text is in the after JSON: quoted, with its quotes doubled.
        Assert.Contains("\"\"text\"\": \"\"=HYPERLINK", csv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_display_name_that_looks_like_a_formula_is_exported_as_text()
    {
        var runId = await StartAsync(Service);
        var sneaky = TestActors.For("=HYPERLINK(\"http://x\")", OpsRoles.Engineer);
        await SucceedsAsync(Service.AddNoteAsync(sneaky, runId, "hello", Ct));

        var csv = (await Service.ExportTimelineAsync(TestActors.Support, runId, Ct)).Value;

        var noteLine = Assert.Single(csv.Split("\r\n"), l => l.Contains("note.added", StringComparison.Ordinal));
        Assert.Contains(",\"'=HYPERLINK(\"\"http://x\"\")\",note.added,", noteLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_accounts_with_the_same_display_name_are_two_people_for_four_eyes()
    {
        var runId = await StartAsync(Service);
        // A local account and a single sign-on user, both shown as "alex".
        var localAlex = TestActors.For("alex", OpsRoles.Engineer, subject: "local-alex");
        var ssoAlex = TestActors.For("alex", OpsRoles.Manager, subject: "sso-alex");
        Assert.NotEqual(localAlex.Id, ssoAlex.Id);

        await SucceedsAsync(Service.SignAsync(localAlex, runId, SignOffKind.Deployed, Ct));
        await SucceedsAsync(Service.SignAsync(ssoAlex, runId, SignOffKind.Verified, Ct));
        var asVerifier = await RefusedAsync(Service.SignAsync(ssoAlex with { DisplayName = "someone else" }, runId, SignOffKind.Approved, Ct), RefusalKind.Forbidden);

        Assert.Contains("verified this run and cannot approve it", asVerifier.Message, StringComparison.Ordinal);
        var run = await RunAsync(Service, runId);
        Assert.Equal(("alex", localAlex.Id, "alex", ssoAlex.Id), (run.Deployed!.UserName, run.Deployed.ActorId, run.Verified!.UserName, run.Verified.ActorId));
    }

    private async Task<long> ReadyForApprovalAsync()
    {
        var runId = await StartAsync(Service);
        await TickAllAsync(Service, runId, SectionRole.FinalChecklist);
        var last = (await RunAsync(Service, runId)).Runbook.ItemsOf(SectionRole.FinalChecklist)[^1];
        await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer2, runId, last.Key, ItemState.NotApplicable, "No issues, no postmortem", null, Ct));
        var probes = await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct);
        Assert.True(probes.Value!.All(p => p.Verdict.Passed), string.Join("; ", probes.Value!.Select(p => p.Verdict.Message)));
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer, runId, SignOffKind.Deployed, Ct));
        await SucceedsAsync(Service.SignAsync(TestActors.Engineer2, runId, SignOffKind.Verified, Ct));
        return runId;
    }

    private async Task<long> CompleteRunAsync()
    {
        var runId = await ReadyForApprovalAsync();
        await SucceedsAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct));
        return runId;
    }

    private async Task WaitUntilBlockedAsync(long runId)
    {
        await using var connection = await Db.OpenConnectionAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await connection.ExecuteScalarAsync<int>("""
                   SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ops.deployment_runs%'
                   """) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The tick on run {runId} never waited for the approval's lock.");
            await Task.Delay(10);
        }
    }
}
