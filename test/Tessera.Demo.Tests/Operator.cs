using System.Net;
using System.Text.RegularExpressions;

namespace Tessera.Demo.Tests;

/// <summary>The operator password the tests configure, and signing in with it through the operator form over HTTP.</summary>
internal static partial class Operator
{
    public const string Password = "correct horse battery staple";

    /// <summary>Made once per test run: hashing is deliberately slow.</summary>
    public static readonly string PasswordHash = OperatorPassword.Hash(Password);

    /// <summary>The argument that configures the operator password.</summary>
    public static string Argument => $"--Demo:OperatorPasswordHash={PasswordHash}";

    /// <summary>Gets the form (its antiforgery cookie and token), then posts <paramref name="password"/> with them.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(DemoClient client, string password = Password)
    {
        using var form = await client.GetAsync("/admin/sign-in");
        Assert.Equal(HttpStatusCode.OK, form.StatusCode);
        var token = TokenField().Match(await form.Content.ReadAsStringAsync());
        Assert.True(token.Success, "the operator form has no antiforgery field");
        return await client.SendAsync(HttpMethod.Post, "/admin/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [WebUtility.HtmlDecode(token.Groups["name"].Value)] = WebUtility.HtmlDecode(token.Groups["value"].Value),
            ["password"] = password,
        }));
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]+)\" value=\"(?<value>[^\"]+)\" ?/?>")]
    private static partial Regex TokenField();
}
