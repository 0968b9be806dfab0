using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Database;
using OpsConsole.Database;

namespace OpsConsole.Auth;

/// <summary>
/// The cookie handler's session store: the sign-in lives in <c>ops.sessions</c> (<see cref="SessionStore"/>) and the
/// cookie carries its id only, so signing out, a new security stamp or another instance's sign-out end it for every
/// instance at the next request. The session id is also a claim of the principal (<see cref="OpsClaims.SessionId"/>),
/// so that an open page can ask whether its session still exists.
/// </summary>
public sealed class PostgresTicketStore(SessionStore sessions, DatabaseStatus databaseStatus, TimeProvider time) : ITicketStore
{
    private static readonly TicketSerializer Serializer = TicketSerializer.Default;

    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreAsync(ticket, CancellationToken.None);

    public Task<string> StoreAsync(AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken) =>
        StoreAsync(ticket, cancellationToken);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        if (ticket.Principal.Identity is ClaimsIdentity identity)
        {
            foreach (var stale in identity.FindAll(OpsClaims.SessionId).ToList())
            {
                identity.RemoveClaim(stale);
            }

            identity.AddClaim(new Claim(OpsClaims.SessionId, id.ToString("N")));
        }

        var now = time.GetUtcNow();
        await sessions.CreateAsync(
            id, ticket.Principal.LocalAccountId(), ticket.Principal.Identity?.Name ?? "", Serializer.Serialize(ticket), ExpiresAt(ticket, now), now, cancellationToken);
        return id.ToString("N");
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => RenewAsync(key, ticket, CancellationToken.None);

    public Task RenewAsync(string key, AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken) =>
        RenewAsync(key, ticket, cancellationToken);

    public async Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        if (Guid.TryParseExact(key, "N", out var id))
        {
            var now = time.GetUtcNow();
            await sessions.RenewAsync(id, Serializer.Serialize(ticket), ExpiresAt(ticket, now), now, cancellationToken);
        }
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveAsync(key, CancellationToken.None);

    public Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken) =>
        RetrieveAsync(key, cancellationToken);

    public async Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken)
    {
        if (!Guid.TryParseExact(key, "N", out var id))
        {
            return null;
        }

        try
        {
            var ticket = await sessions.FindAsync(id, time.GetUtcNow(), cancellationToken);
            return ticket is null ? null : Serializer.Deserialize(ticket);
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            // Signed out while the database is away (nothing could be served anyway), and in again once it is back:
            // the cookie is not deleted. Anonymous endpoints such as the health check keep answering.
            databaseStatus.ReportFailure(ex);
            return null;
        }
    }

    public Task RemoveAsync(string key) => RemoveAsync(key, CancellationToken.None);

    public Task RemoveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken) => RemoveAsync(key, cancellationToken);

    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        if (Guid.TryParseExact(key, "N", out var id))
        {
            await sessions.RemoveAsync(id, cancellationToken);
        }
    }

    // The cookie handler sets ExpiresUtc before storing; the fallback is its default lifetime.
    private static DateTimeOffset ExpiresAt(AuthenticationTicket ticket, DateTimeOffset now) =>
        ticket.Properties.ExpiresUtc ?? now.Add(AuthenticationSetup.CookieLifetime);
}
