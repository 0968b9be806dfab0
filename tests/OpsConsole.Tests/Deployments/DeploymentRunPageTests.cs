using Bunit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Auth;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

// One collection: these classes run one after another, so their database and browser work does not
// starve the rest of the suite (bUnit's 1 s waits elsewhere failed under their combined load).
[Collection(DeploymentTests.Collection)]
public sealed class DeploymentRunPageTests(MarketplaceDatabase database) : DeploymentPageTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task An_open_run_shows_the_guides_sections_in_order_with_items_checks_contacts_and_signatures()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        SignInAs("engineer", OpsRoles.Engineer);

        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=open-all]");
        // Parts fold; opened, the whole runbook is there.
        await cut.FindAndClickAsync("[data-testid=open-all]");
        await Eventually(cut, () => Assert.Empty(cut.FindAll("[data-testid=section][data-collapsed=true]")));

        var roles = cut.FindAll("[data-testid=section]").Select(s => s.GetAttribute("data-role") ?? "").Distinct().ToArray();
        Assert.Equal(
            ["PreDeployment", "Steps", "MigrationVerification", "Verification", "Monitoring", "Rollback", "FinalChecklist", "SignOff", "Notes"],
            roles);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        Assert.Equal(run.Runbook.Items.Count, cut.FindAll("[data-testid=item]").Count);
        Assert.Equal(10, cut.FindAll("[data-testid=probe][data-result=never-run]").Count);
        Assert.Equal("INCOMPLETE", cut.Find("[data-testid=run-status]").TextContent.Trim());
        Assert.Equal(5, cut.FindAll("[data-testid=contacts] input").Count);
        Assert.NotEmpty(cut.FindAll("[data-testid=sign-deployed]"));
        Assert.True(cut.FindAll("[data-testid=reference-panel]").Count >= 6);
        Assert.Contains(cut.FindAll("[data-testid=command]"), c => c.TextContent.Contains("supabase db push", StringComparison.Ordinal));
        Assert.Contains("href=\"/locks\"", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reference_section_renders_its_blocks_only_while_it_is_open()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var reference = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Sections.First(s => s.Role == SectionRole.Reference && s.Blocks.Count > 0);
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var toggle = $"[data-testid=reference-panel][id='{reference.Key}'] [data-testid=reference-toggle]";
        await ElementOf(cut, toggle);

        Assert.Empty(cut.FindAll("[data-testid=reference-body]"));
        Assert.Equal("false", cut.Find(toggle).GetAttribute("aria-expanded"));
        Assert.Equal(reference.Title, cut.Find($"{toggle} .mud-expand-panel-text").TextContent.Trim());

        await cut.FindAndClickAsync(toggle);
        await Eventually(cut, () =>
        {
            Assert.Equal("true", cut.Find(toggle).GetAttribute("aria-expanded"));
            var body = Assert.Single(cut.FindAll("[data-testid=reference-body]"));
            Assert.Equal(cut.Find(toggle).GetAttribute("aria-controls"), body.Id);
            Assert.NotEmpty(body.InnerHtml.Trim());
        });

        await cut.FindAndClickAsync(toggle);
        await Eventually(cut, () =>
        {
            Assert.Equal("false", cut.Find(toggle).GetAttribute("aria-expanded"));
            Assert.Empty(cut.FindAll("[data-testid=reference-body]"));
        });
    }

    [Fact]
    public async Task Ticking_an_item_shows_who_ticked_it_and_when()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[0];
        SignInAs("engineer2", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=deployment-run]");

        await cut.InvokeAsync(() => cut.Instance.SetItemAsync(item, ItemState.Checked, null));

        await Eventually(cut, () =>
        {
            var row = cut.Find($"[data-testid=item][data-key='{item.Key}']");
            Assert.Equal("checked", row.GetAttribute("data-state"));
            Assert.StartsWith("Checked by engineer2 at ", row.QuerySelector("[data-testid=item-by]")!.TextContent.Trim(), StringComparison.Ordinal);
        });
        await cut.FindAndClickAsync("[data-testid=timeline-toggle]");
        await ElementOf(cut, "[data-testid=timeline-event]");
        var tick = Assert.Single(cut.FindAll("[data-testid=timeline-event]"), e => e.GetAttribute("data-action") == "item.checked");
        Assert.Contains("engineer2", tick.TextContent, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"unchecked\"", tick.TextContent, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"checked\"", tick.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_items_check_box_ticks_and_unticks_it_and_shows_the_saved_state()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[0];
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var row = $"[data-testid=item][data-key='{item.Key}']";
        var box = await ElementOf(cut, $"{row} [data-testid=item-check]");
        Assert.Equal("checkbox", box.GetAttribute("type"));
        Assert.Equal(item.Text, box.GetAttribute("aria-label"));
        Assert.False(box.HasAttribute("checked"));

        await cut.FindAndClickAsync($"{row} [data-testid=item-check]");
        await Eventually(cut, () =>
        {
            Assert.Equal("checked", cut.Find(row).GetAttribute("data-state"));
            Assert.True(cut.Find($"{row} [data-testid=item-check]").HasAttribute("checked"));
        });
        Assert.Equal(ItemState.Checked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(item.Key));

        await cut.FindAndClickAsync($"{row} [data-testid=item-check]");
        await Eventually(cut, () =>
        {
            Assert.Equal("unchecked", cut.Find(row).GetAttribute("data-state"));
            Assert.False(cut.Find($"{row} [data-testid=item-check]").HasAttribute("checked"));
            Assert.StartsWith("Unchecked by engineer at ", cut.Find($"{row} [data-testid=item-by]").TextContent.Trim(), StringComparison.Ordinal);
        });
        Assert.Equal(ItemState.Unchecked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(item.Key));
    }

    [Fact]
    public async Task An_item_row_is_one_component_with_no_MudBlazor_components_inside_until_N_A_is_asked()
    {
        // Page memory (issue 15): every component instance costs each open page about 3 KB, and the run page repeats
        // the row for all its items; the row's check box, N/A button and captions are plain elements.
        var runId = await DeploymentScenario.StartAsync(Service);
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=item]");

        Assert.NotEmpty(cut.FindComponents<MudBlazor.MudComponentBase>());
        var rows = cut.FindComponents<ChecklistItemRow>();
        Assert.NotEmpty(rows);
        Assert.All(rows, row => Assert.Empty(row.FindComponents<MudBlazor.MudComponentBase>()));
    }

    [Fact]
    public async Task A_contact_typed_in_its_field_is_saved_when_the_field_changes_and_shown_with_its_label()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var field = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.ContactFields[0];
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var input = await ElementOf(cut, $"[data-testid=contacts] input[data-testid='{field.Key}']");
        Assert.Equal(field.Label, input.ParentElement!.QuerySelector(".plain-field-label")!.TextContent);
        Assert.False(input.HasAttribute("disabled"));

        await cut.FindAndChangeAsync($"[data-testid=contacts] input[data-testid='{field.Key}']", "Ana Lima, +351 900 000 000");

        await Eventually(cut, () => Assert.Equal("Ana Lima, +351 900 000 000",
            cut.Find($"[data-testid=contacts] input[data-testid='{field.Key}']").GetAttribute("value")));
        Assert.Equal("Ana Lima, +351 900 000 000", (await DeploymentScenario.LoadAsync(Service, runId)).ContactOf(field));
    }

    [Fact]
    public async Task NA_without_a_reason_is_refused_with_the_reason_and_the_item_stays_unchecked()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[1];
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var row = await ElementOf(cut, $"[data-testid=item][data-key='{item.Key}']");
        await cut.FindAndClickAsync($"[data-testid=item][data-key='{item.Key}'] [data-testid=item-na]");
        await ElementOf(cut, $"[data-testid=item][data-key='{item.Key}'] [data-testid=item-na-save]");
        await cut.FindAndClickAsync($"[data-testid=item][data-key='{item.Key}'] [data-testid=item-na-save]");

        await Eventually(cut, () => Assert.Contains("N/A needs a reason", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
        Assert.Equal("unchecked", cut.Find($"[data-testid=item][data-key='{item.Key}']").GetAttribute("data-state"));
        Assert.Equal(ItemState.Unchecked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(item.Key));
    }

    [Fact]
    public async Task Approving_your_own_deployment_is_disabled_with_the_reason_beside_it_and_the_service_still_refuses_it()
    {
        var runId = await DeploymentScenario.StartAsync(Service, DeploymentScenario.Manager);
        Assert.True((await Service.SignAsync(DeploymentScenario.Manager, runId, SignOffKind.Deployed, CancellationToken.None)).Succeeded);
        Assert.True((await Service.SignAsync(DeploymentScenario.Engineer, runId, SignOffKind.Verified, CancellationToken.None)).Succeeded);
        SignInAs("manager", OpsRoles.Manager);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));

        await ElementOf(cut, "[data-testid=sign-approved]");
        Assert.True(cut.Find("[data-testid=sign-approved]").HasAttribute("disabled"));
        Assert.Contains("manager deployed this run and cannot approve it", cut.Find("[data-testid=sign-approved-blocked]").TextContent, StringComparison.Ordinal);
        await cut.InvokeAsync(() => cut.Instance.SignAsync(new SignRequest(SignOffKind.Approved, null)));

        // The refusal shows in the sign-off panel, beside the button, not at the top of the page.
        await Eventually(cut, () => Assert.Contains("manager deployed this run and cannot approve it", cut.Find("[data-testid=sign-off] [data-testid=refusal]").TextContent, StringComparison.Ordinal));
        Assert.Equal("INCOMPLETE", cut.Find("[data-testid=run-status]").TextContent.Trim());
        Assert.Null((await DeploymentScenario.LoadAsync(Service, runId)).Approved);
    }

    [Fact]
    public async Task A_run_approved_in_another_tab_refuses_the_tick_and_the_page_shows_it_complete_and_read_only()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[0];
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=deployment-run]");
        await DeploymentScenario.CompleteAsync(Service, runId);

        await cut.InvokeAsync(() => cut.Instance.SetItemAsync(item, ItemState.Checked, null));

        await Eventually(cut, () => Assert.Contains("This run is COMPLETE (approved by manager", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
        Assert.Equal("COMPLETE", cut.Find("[data-testid=run-status]").TextContent.Trim());
        Assert.NotEmpty(cut.FindAll("[data-testid=read-only]"));
        Assert.Empty(cut.FindAll("[data-testid=sign-off] button"));
        Assert.True(cut.Find("[data-testid=run-checks]").HasAttribute("disabled"));
        Assert.All(cut.FindAll("[data-testid=item] input[type=checkbox]"), box => Assert.True(box.HasAttribute("disabled")));
        Assert.Equal(ItemState.Unchecked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(item.Key));
    }

    [Fact]
    public async Task A_complete_run_still_takes_notes()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        await DeploymentScenario.CompleteAsync(Service, runId);
        SignInAs("support", OpsRoles.Support);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=notes]");

        await cut.FindAndInputAsync("textarea[data-testid=note-text]", "Support briefed on the change.");
        await cut.FindAndClickAsync("[data-testid=add-note]");

        await Eventually(cut, () => Assert.Contains("Support briefed on the change.", cut.Find("[data-testid=note]").TextContent, StringComparison.Ordinal));
        Assert.Equal("support", Assert.Single((await DeploymentScenario.LoadAsync(Service, runId)).Notes).Author);
    }

    [Fact]
    public async Task Support_can_read_the_run_but_a_direct_tick_or_signature_is_refused_on_the_server()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[0];
        SignInAs("support", OpsRoles.Support);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=deployment-run]");

        await cut.InvokeAsync(() => cut.Instance.SetItemAsync(item, ItemState.Checked, null));
        await Eventually(cut, () => Assert.Contains("not allowed to sign off deployments", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
        await cut.FindAndClickAsync("[data-testid=refusal] button");
        Assert.Empty(cut.FindAll("[data-testid=refusal]"));
        await cut.InvokeAsync(() => cut.Instance.SignAsync(new SignRequest(SignOffKind.Deployed, null)));
        await Eventually(cut, () =>
        {
            var refusal = cut.Find("[data-testid=refusal]");
            Assert.Contains("not allowed to sign off deployments", refusal.TextContent, StringComparison.Ordinal);
            Assert.Contains("signed in as support", refusal.TextContent, StringComparison.Ordinal);
            Assert.Equal("Forbidden", refusal.GetAttribute("data-refusal-kind"));
        });

        var run = await DeploymentScenario.LoadAsync(Service, runId);
        Assert.Equal((ItemState.Unchecked, (Signature?)null), (run.StateOf(item.Key), run.Deployed));
    }

    [Fact]
    public async Task A_tick_by_someone_else_appears_with_their_name_when_the_change_is_announced()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[3];
        SignInAs("engineer2", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=deployment-run]");

        Assert.True((await Service.SetItemAsync(DeploymentScenario.Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None)).Succeeded);
        var last = (await DeploymentScenario.LoadAsync(Service, runId)).LastEventId;
        Services.GetRequiredService<DeploymentEventHub>().Publish(new DeploymentChange(runId, last));

        await Eventually(cut, () =>
        {
            Assert.Equal("checked", cut.Find($"[data-testid=item][data-key='{item.Key}']").GetAttribute("data-state"));
            Assert.StartsWith("engineer marked", cut.Find("[data-testid=last-change]").TextContent.Trim(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task An_unknown_run_says_so()
    {
        SignInAs("engineer", OpsRoles.Engineer);
        await Task.CompletedTask;

        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, 424242));

        await Eventually(cut, () => Assert.Contains("There is no deployment run 424242", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
    }

    // Generous deadlines: each assertion waits on the database and a re-render of a 46-item page; at load average
    // 40 on two cores that took longer than 10 s (a deadline costs nothing when the condition is met earlier).
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static Task Eventually<T>(IRenderedComponent<T> cut, Action assertion) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.WaitForAssertionAsync(assertion, Wait);

    private static Task<AngleSharp.Dom.IElement> ElementOf<T>(IRenderedComponent<T> cut, string selector) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.WaitForElementAsync(selector, Wait);

    [Fact]
    public async Task The_timeline_shows_twenty_events_a_page_newest_first_with_a_pager()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var items = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items.Take(25).ToList();
        foreach (var item in items)
        {
            Assert.True((await Service.SetItemAsync(DeploymentScenario.Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None)).Succeeded);
        }

        var total = (await DeploymentScenario.LoadAsync(Service, runId)).Timeline.Count;
        Assert.True(total > 20, $"{total} events");
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        // The timeline is folded until asked for, with its count on the button.
        var toggle = await ElementOf(cut, "[data-testid=timeline-toggle]");
        Assert.Equal("false", toggle.GetAttribute("aria-expanded"));
        Assert.Contains($"Timeline ({total} events)", toggle.TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=timeline-event]"));
        await cut.FindAndClickAsync("[data-testid=timeline-toggle]");
        await ElementOf(cut, "[data-testid=timeline-pager]");
        Assert.Equal("true", cut.Find("[data-testid=timeline-toggle]").GetAttribute("aria-expanded"));

        Assert.Equal(20, cut.FindAll("[data-testid=timeline-event]").Count);
        Assert.Equal($"1–20 of {total}", cut.Find("[data-testid=timeline-range]").TextContent);
        Assert.True(cut.Find("[data-testid=timeline-previous]").HasAttribute("disabled"));

        await cut.FindAndClickAsync("[data-testid=timeline-next]");

        await Eventually(cut, () => Assert.Equal(total - 20, cut.FindAll("[data-testid=timeline-event]").Count));
        Assert.Equal($"21–{total} of {total}", cut.Find("[data-testid=timeline-range]").TextContent);
        Assert.True(cut.Find("[data-testid=timeline-next]").HasAttribute("disabled"));
    }

    [Fact]
    public async Task An_engineer_demoted_while_the_page_is_open_is_refused_at_the_next_action()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var item = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items[0];
        var accounts = Services.GetRequiredService<AccountService>();
        Assert.True(await accounts.UpsertAsync("demoted", OpsRoles.Engineer, "correct horse battery", CancellationToken.None));
        SignIn(AuthenticationSetup.CreateLocalPrincipal((await accounts.FindAsync("demoted", CancellationToken.None))!));
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await ElementOf(cut, "[data-testid=deployment-run]");

        // The cookie still says engineer; the account no longer does.
        await accounts.UpsertAsync("demoted", OpsRoles.Support, "correct horse battery", CancellationToken.None);
        await cut.InvokeAsync(() => cut.Instance.SetItemAsync(item, ItemState.Checked, null));

        await Eventually(cut, () =>
        {
            var refusal = cut.Find("[data-testid=refusal]");
            Assert.Equal("Forbidden", refusal.GetAttribute("data-refusal-kind"));
            Assert.Contains("signed in as support", refusal.TextContent, StringComparison.Ordinal);
        });
        Assert.Equal(ItemState.Unchecked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(item.Key));
    }
}
