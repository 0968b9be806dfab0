using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Search;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Search;

public sealed class SearchResolverTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private ServiceProvider _services = null!;
    private SearchScene _scene = null!;

    private SearchResolver Resolver => _services.GetRequiredService<SearchResolver>();

    public async Task InitializeAsync()
    {
        _services = TestServices.Build(database.ConnectionString);
        // xunit makes an instance per test, all on the class's database: each writes a scene of its own.
        _scene = await SearchScene.CreateAsync(database.DataSource, $"r{Guid.NewGuid():N}"[..9]);
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task A_purchase_id_lands_on_its_purchase_page()
    {
        var target = await FoundAsync(_scene.PurchaseId.ToString());

        Assert.Equal(("purchase", $"purchases/{_scene.PurchaseId}"), (target.Kind, target.Url));
        Assert.Contains(_scene.BuyerName, target.Label, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lead_id_lands_on_the_purchase_that_bought_it_and_an_unbought_lead_on_its_sellers_page()
    {
        var bought = await FoundAsync($"  {_scene.BoughtLeadId.ToString().ToUpperInvariant()}  ");
        var free = await FoundAsync(_scene.FreeLeadId.ToString());

        Assert.Equal(("lead", $"purchases/{_scene.PurchaseId}?lead={_scene.BoughtLeadId}"), (bought.Kind, bought.Url));
        Assert.Equal(("lead", $"workspaces/{_scene.SellerId}?lead={_scene.FreeLeadId}"), (free.Kind, free.Url));
        Assert.Contains("no purchase bought or reserved it", free.Label, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_workspace_id_and_its_exact_name_in_any_case_land_on_the_workspace_page()
    {
        var byId = await FoundAsync(_scene.BuyerId.ToString());
        var byName = await FoundAsync(_scene.BuyerName.ToLowerInvariant());
        var byPart = await FoundAsync(_scene.BuyerName[..^" Plumbing".Length].ToLowerInvariant());

        Assert.All([byId, byName, byPart], t => Assert.Equal(("workspace", $"workspaces/{_scene.BuyerId}"), (t.Kind, t.Url)));
    }

    [Fact]
    public async Task A_name_several_workspaces_contain_lists_them_as_choices()
    {
        var outcome = await OutcomeAsync(_scene.TwinWord);

        Assert.Null(outcome.Target);
        Assert.Null(outcome.Message);
        Assert.Equal(2, outcome.Choices.Count);
        Assert.All(outcome.Choices, c => Assert.Equal("workspace", c.Kind));
        Assert.Contains(outcome.Choices, c => c.Url == $"workspaces/{_scene.SellerId}");
    }

    [Fact]
    public async Task A_Stripe_event_lands_on_the_Stripe_page_filtered_to_it_also_when_only_the_marketplace_recorded_it()
    {
        var delivered = await FoundAsync(_scene.EventId);
        var recorded = await FoundAsync(_scene.MarketplaceOnlyEventId);

        Assert.Equal(("stripe-event", $"stripe?event={_scene.EventId}"), (delivered.Kind, delivered.Url));
        Assert.Contains("latest delivery completed", delivered.Label, StringComparison.Ordinal);
        Assert.Equal($"stripe?event={_scene.MarketplaceOnlyEventId}", recorded.Url);
    }

    [Fact]
    public async Task A_payment_intent_lands_on_the_purchase_it_paid_for()
    {
        var target = await FoundAsync(_scene.PaymentIntentId);

        Assert.Equal(("payment-intent", $"purchases/{_scene.PurchaseId}"), (target.Kind, target.Url));
    }

    [Fact]
    public async Task A_running_backend_and_one_the_console_cancelled_before_land_on_the_lock_view()
    {
        await using var held = await database.DataSource.OpenConnectionAsync();
        var pid = await held.ExecuteScalarAsync<int>("SELECT pg_backend_pid()");

        var running = await FoundAsync(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var gone = await FoundAsync(_scene.GonePid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(("backend", $"locks?pid={pid}"), (running.Kind, running.Url));
        Assert.Contains("running now", running.Label, StringComparison.Ordinal);
        Assert.Equal($"locks?pid={_scene.GonePid}", gone.Url);
        Assert.Contains("cancel by engineer", gone.Label, StringComparison.Ordinal);
        Assert.Contains("no longer running", gone.Label, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("6f1c1a52-1f9e-4f55-9a3e-1d1b1e1f1a1b")]
    [InlineData("evt_never_seen")]
    [InlineData("pi_never_seen")]
    [InlineData("2147483000")]
    [InlineData("no workspace is called this")]
    [InlineData("%%")]
    [InlineData("__")]
    public async Task Something_that_matches_nothing_says_so(string query)
    {
        var outcome = await OutcomeAsync(query);

        Assert.Null(outcome.Target);
        Assert.Empty(outcome.Choices);
        Assert.StartsWith($"Nothing found for \u201c{query}\u201d", outcome.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'; drop table workspaces; --")]
    [InlineData("x' OR '1'='1")]
    [InlineData("evt_'); DELETE FROM leads; --")]
    [InlineData("1; DROP TABLE leads")]
    public async Task Malicious_input_finds_nothing_and_changes_nothing(string query)
    {
        var before = await CountsAsync();

        var outcome = await OutcomeAsync(query);

        Assert.StartsWith("Nothing found", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(before, await CountsAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public async Task Empty_input_is_refused_with_what_to_type(string? query)
    {
        var result = await Resolver.ResolveAsync(TestActors.Support, query, CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Refusal?.Kind);
        Assert.Contains("an id or a name", result.Refusal!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_longer_than_any_id_or_name_is_refused()
    {
        var result = await Resolver.ResolveAsync(TestActors.Support, new string('a', SearchInput.MaxLength + 1), CancellationToken.None);

        Assert.Equal(RefusalKind.Invalid, result.Refusal?.Kind);
    }

    [Fact]
    public async Task Someone_without_a_console_role_is_refused()
    {
        var result = await Resolver.ResolveAsync(TestActors.For("stranger", null), _scene.PurchaseId.ToString(), CancellationToken.None);

        Assert.Equal(RefusalKind.Forbidden, result.Refusal?.Kind);
    }

    [Fact]
    public void Every_kind_has_a_name_of_its_own()
    {
        var names = Resolver.Kinds.Select(k => k.Name).ToArray();

        Assert.Equal(names.Length, names.Distinct().Count());
        Assert.Equal(["purchase", "lead", "workspace", "stripe-event", "payment-intent", "backend"], names);
    }

    private async Task<SearchTarget> FoundAsync(string query)
    {
        var outcome = await OutcomeAsync(query);
        Assert.True(outcome.Target is not null, outcome.Message ?? $"{outcome.Choices.Count} choices: {string.Join("; ", outcome.Choices.Select(c => c.Label))}");
        return outcome.Target!;
    }

    private async Task<SearchOutcome> OutcomeAsync(string query)
    {
        var result = await Resolver.ResolveAsync(TestActors.Support, query, CancellationToken.None);
        Assert.True(result.Succeeded, result.Refusal?.Message);
        return result.Value;
    }

    private async Task<(long Workspaces, long Leads, long Purchases)> CountsAsync()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(long, long, long)>(
            "SELECT (SELECT count(*) FROM workspaces), (SELECT count(*) FROM leads), (SELECT count(*) FROM marketplace_purchases)");
    }
}
