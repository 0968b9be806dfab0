using MudBlazor;

namespace OpsConsole.Components.Layout;

public static class OpsTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight { Primary = "#1e5aa8", AppbarBackground = "#1e5aa8" },
        PaletteDark = new PaletteDark { Primary = "#7aa7e6", AppbarBackground = "#1b1f27" },
    };
}
