using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Components.Layout;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

public sealed class NavMenuTests : ConsoleBunitContext
{
    private static readonly string[] AreaLinks = ["/deployments", "/purchases", "/locks", "/credits", "/stripe"];

    [Theory]
    [InlineData(OpsRoles.Engineer)]
    [InlineData(OpsRoles.Support)]
    [InlineData(OpsRoles.Manager)]
    [InlineData(OpsRoles.Admin)]
    public void Every_role_sees_all_five_areas(string role)
    {
        SignInAs(role, role);

        var cut = Render<NavMenu>();

        var links = cut.FindAll("a").Select(a => a.GetAttribute("href")).ToList();
        Assert.All(AreaLinks, area => Assert.Contains(area, links));
    }

    [Theory]
    [InlineData(OpsRoles.Engineer, new[] { "/credits", "/stripe" })]
    [InlineData(OpsRoles.Support, new[] { "/deployments", "/locks" })]
    [InlineData(OpsRoles.Manager, new[] { "/locks", "/credits", "/stripe" })]
    [InlineData(OpsRoles.Admin, new string[0])]
    public void Areas_where_the_role_has_no_action_are_marked_view_only(string role, string[] viewOnly)
    {
        SignInAs(role, role);

        var cut = Render<NavMenu>();

        var marked = cut.FindAll("a")
            .Where(a => a.QuerySelector("[data-testid=view-only]") is not null)
            .Select(a => a.GetAttribute("href"))
            .Order()
            .ToList();
        Assert.Equal(viewOnly.Order(), marked);
    }

    [Fact]
    public async Task The_current_areas_link_is_marked_active_and_the_mark_follows_navigation()
    {
        SignInAs("erin", OpsRoles.Engineer);
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/locks?pid=42");

        var cut = Render<NavMenu>();

        string[] Active() => [.. cut.FindAll("a.active").Select(a => a.GetAttribute("href") ?? "")];
        Assert.Equal(["/locks"], Active());
        Assert.Equal("page", cut.Find("a[href='/locks']").GetAttribute("aria-current"));
        Assert.False(cut.Find("a[href='/']").HasAttribute("aria-current"));

        await cut.InvokeAsync(() => navigation.NavigateTo("/deployments/7"));
        await cut.WaitForAssertionAsync(() => Assert.Equal(["/deployments"], Active()), TimeSpan.FromSeconds(30));

        await cut.InvokeAsync(() => navigation.NavigateTo("/"));
        await cut.WaitForAssertionAsync(() => Assert.Equal(["/"], Active()), TimeSpan.FromSeconds(30));
    }
}
