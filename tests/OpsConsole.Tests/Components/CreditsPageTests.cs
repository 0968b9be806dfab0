using Bunit;
using OpsConsole.Components.Pages.Credits;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

public sealed class CreditsPageTests : ConsoleBunitContext
{
    [Theory]
    [InlineData(OpsRoles.Manager)]
    [InlineData(OpsRoles.Engineer)]
    public void A_role_without_credit_rights_is_refused_when_adjusting_credits(string role)
    {
        SignInAs("someone", role);
        var cut = Render<CreditsPage>();

        cut.Find("[data-testid=adjust-credits]").Click();

        var refusal = cut.Find("[data-testid=refusal]").TextContent;
        Assert.Contains("not allowed to edit credits", refusal);
        Assert.Contains("support or admin", refusal);
        Assert.Contains($"signed in as {role}", refusal);
        Assert.Empty(cut.FindAll("[data-testid=adjust-credits-allowed]"));
    }

    [Fact]
    public async Task The_server_side_check_refuses_a_manager_even_without_the_button()
    {
        SignInAs("manager", OpsRoles.Manager);
        var cut = Render<CreditsPage>();

        await cut.InvokeAsync(cut.Instance.AdjustCreditsAsync);
        cut.Render();

        Assert.NotEmpty(cut.FindAll("[data-testid=refusal]"));
    }

    [Theory]
    [InlineData(OpsRoles.Support)]
    [InlineData(OpsRoles.Admin)]
    public void Support_and_admin_may_adjust_credits(string role)
    {
        SignInAs("someone", role);
        var cut = Render<CreditsPage>();

        cut.Find("[data-testid=adjust-credits]").Click();

        Assert.NotEmpty(cut.FindAll("[data-testid=adjust-credits-allowed]"));
        Assert.Empty(cut.FindAll("[data-testid=refusal]"));
    }
}
