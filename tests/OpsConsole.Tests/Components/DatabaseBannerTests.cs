using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using Npgsql;
using OpsConsole.Components.Layout;
using OpsConsole.Components.Shared;
using OpsConsole.Database;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

public sealed class DatabaseBannerTests : ConsoleBunitContext
{
    [Fact]
    public async Task The_banner_shows_while_the_database_is_unreachable_and_goes_when_it_answers()
    {
        var status = Services.GetRequiredService<DatabaseStatus>();
        var cut = Render<DatabaseBanner>();
        Assert.Empty(cut.FindAll("[data-testid=database-banner]"));

        status.ReportUnreachable("connection refused");
        await cut.WaitForAssertionAsync(() => Assert.Contains("Database unreachable", cut.Find("[data-testid=database-banner]").TextContent));

        status.ReportReachable();
        await cut.WaitForAssertionAsync(() => Assert.Empty(cut.FindAll("[data-testid=database-banner]")));
    }

    [Fact]
    public async Task A_page_that_throws_a_database_error_is_replaced_by_a_notice_and_rebuilt_when_the_database_answers()
    {
        var status = Services.GetRequiredService<DatabaseStatus>();
        var failuresLeft = new StrongBox<int>(1);

        var cut = Render<DatabaseErrorBoundary>(p => p.AddChildContent<FlakyPage>(page => page.Add(x => x.FailuresLeft, failuresLeft)));

        await cut.WaitForAssertionAsync(() => Assert.Contains("needs the database", cut.Find("[data-testid=page-error]").TextContent));
        Assert.False(status.IsReachable);

        status.ReportReachable();
        await cut.WaitForAssertionAsync(() => Assert.Equal("page content", cut.Find("[data-testid=flaky]").TextContent));
    }

    [Fact]
    public async Task A_page_whose_statement_the_database_refuses_shows_the_error_and_leaves_the_database_reachable()
    {
        var status = Services.GetRequiredService<DatabaseStatus>();

        var cut = Render<DatabaseErrorBoundary>(p => p.AddChildContent<SqlBugPage>());

        await cut.WaitForAssertionAsync(() => Assert.Contains("Something went wrong", cut.Find("[data-testid=page-error]").TextContent));
        Assert.True(status.IsReachable);
    }

    private sealed class SqlBugPage : ComponentBase
    {
        protected override void OnInitialized() =>
            throw new PostgresException("relation \"no_such_table\" does not exist", "ERROR", "ERROR", PostgresErrorCodes.UndefinedTable);
    }

    private sealed class FlakyPage : ComponentBase
    {
        [Parameter, EditorRequired]
        public required StrongBox<int> FailuresLeft { get; set; }

        protected override void OnInitialized()
        {
            if (FailuresLeft.Value-- > 0)
            {
                throw new NpgsqlException("Failed to connect to 127.0.0.1:1", new SocketException((int)SocketError.ConnectionRefused));
            }
        }

        protected override void BuildRenderTree(RenderTreeBuilder builder)
        {
            builder.OpenElement(0, "p");
            builder.AddAttribute(1, "data-testid", "flaky");
            builder.AddContent(2, "page content");
            builder.CloseElement();
        }
    }
}
