using Bunit;
using MudBlazor;
using OpsConsole.Components.Layout;
using OpsConsole.Components.Shared;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

/// <summary>
/// The layout's theme provider shares one stylesheet per theme and mode across circuits: it must render exactly what
/// MudBlazor's own provider renders, in light and dark mode, and hand every page the same string instance.
/// </summary>
public sealed class SharedThemeProviderTests : ConsoleBunitContext
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Renders_what_MudThemeProvider_renders(bool dark)
    {
        var mud = Render<MudThemeProvider>(p => p.Add(c => c.Theme, OpsTheme.Theme).Add(c => c.IsDarkMode, dark));
        var shared = Render<SharedThemeProvider>(p => p.Add(c => c.Theme, OpsTheme.Theme).Add(c => c.IsDarkMode, dark));

        Assert.Contains("--mud-palette-primary", mud.Markup, StringComparison.Ordinal);
        Assert.Equal(mud.Markup, shared.Markup);
    }

    [Fact]
    public void Pages_keep_one_instance_of_each_stylesheet_text()
    {
        var built = new[] { 1, 2 }.Select(_ => Render<MudThemeProvider>(p => p.Add(c => c.Theme, OpsTheme.Theme)).Markup).ToArray();
        Assert.NotSame(built[0], built[1]);

        Assert.Same(SharedThemeProvider.Shared(built[0]), SharedThemeProvider.Shared(new string(built[1])));
        Assert.Equal(built[0], SharedThemeProvider.Shared(built[1]));
        Assert.NotEqual(built[0], SharedThemeProvider.Shared(built[0] + " "));
    }
}
