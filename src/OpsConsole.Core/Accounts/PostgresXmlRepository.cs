using System.Xml.Linq;
using Dapper;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace OpsConsole.Core.Accounts;

/// <summary>
/// ASP.NET Data Protection's key ring in <c>ops.data_protection_keys</c> (migration 0070): sign-in cookies and
/// antiforgery tokens stay valid across a restart and between console instances on one database.
/// Elements are only ever added (the runtime role may SELECT and INSERT); Data Protection's interface is synchronous.
/// </summary>
public sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    /// <inheritdoc />
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = dataSource.OpenConnection();
        return connection.Query<string>(SelectSql).Select(XElement.Parse).ToList();
    }

    /// <inheritdoc />
    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = dataSource.OpenConnection();
        connection.Execute(InsertSql, new { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
    }

    private const string SelectSql = "SELECT xml FROM ops.data_protection_keys ORDER BY id";

    // Friendly names carry the key's id ("key-<guid>"): a second store of the same element changes nothing.
    private const string InsertSql = """
        INSERT INTO ops.data_protection_keys (friendly_name, xml) VALUES (@FriendlyName, @Xml)
        ON CONFLICT (friendly_name) DO NOTHING
        """;
}
