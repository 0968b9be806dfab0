using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>
/// An HTTP client with cookies and no automatic redirects, that signs in through the real form. It sends the console's
/// own Origin, as the console's pages do (the API's changes refuse a request from another origin).
/// </summary>
public static partial class SignInClient
{
    public static HttpClient Create(WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        client.DefaultRequestHeaders.Add("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        return client;
    }

    /// <summary>The antiforgery token of a console page (the sign-out form's), for the RequestVerificationToken header.</summary>
    public static async Task<string> AntiforgeryTokenAsync(this HttpClient client, string page = "/")
    {
        var html = await client.GetStringAsync(page);
        return WebUtility.HtmlDecode(AntiforgeryToken().Match(html).Groups[1].Value);
    }

    /// <summary>Posts the sign-in form (with its antiforgery token) and returns the redirect it answers with.</summary>
    public static async Task<Uri> SignInAsync(this HttpClient client, string userName, string password, string? returnUrl = null)
    {
        var form = await client.GetStringAsync("/login");
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        var fields = new Dictionary<string, string>
        {
            ["userName"] = userName,
            ["password"] = password,
            ["returnUrl"] = returnUrl ?? "",
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
        };
        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(fields));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response.Headers.Location!;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
