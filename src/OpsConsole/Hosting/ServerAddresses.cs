using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OpsConsole.Core.Demo;

namespace OpsConsole.Hosting;

/// <summary>The addresses Kestrel listens on, for Core's demo (Core has no web types).</summary>
public sealed class ServerAddresses(IServer server) : IConsoleAddresses
{
    public IReadOnlyCollection<string> Addresses =>
        server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
}
