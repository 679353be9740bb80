using System.Net;

namespace Tessera.Demo.Tests;

/// <summary>The demo's HTML pages over plain HTTP: access rules and HTML encoding.</summary>
public sealed class DemoPagesTests
{
    [Fact]
    public async Task TheOperatorPageIsUnauthorizedForAnonymousVisitorsAndForbiddenForOthersWithAReadablePage()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: Operator.Argument);
        using var anonymous = server.CreateClient();
        using var alice = server.CreateClient();
        await alice.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });

        using var unauthorized = await anonymous.GetAsync("/admin/sessions?user=alice");
        using var forbidden = await alice.GetAsync("/admin/sessions?user=alice");
        using var revoke = await alice.PostAsync($"/admin/sessions/{Guid.NewGuid():D}/revoke");

        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal("text/html", unauthorized.Content.Headers.ContentType?.MediaType);
        var unauthorizedPage = await unauthorized.Content.ReadAsStringAsync();
        Assert.Contains("<h1>Not signed in</h1>", unauthorizedPage, StringComparison.Ordinal);
        Assert.Contains("href=\"/admin/sign-in\"", unauthorizedPage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("<h1>Not an operator</h1>", await forbidden.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, revoke.StatusCode);
    }

    [Fact]
    public async Task UserNamesAndUserAgentsAreHtmlEncoded()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: Operator.Argument);
        using var admin = server.CreateClient();
        using var mallory = server.CreateClient();
        const string name = "<script>alert(1)</script>";
        Assert.Equal(HttpStatusCode.SeeOther, (await Operator.SignInAsync(admin)).StatusCode);
        await mallory.JsonAsync(HttpMethod.Post, "/login", new { user = name });

        using var own = await mallory.GetAsync("/account/sessions");
        using var search = await admin.GetAsync("/admin/sessions?user=" + Uri.EscapeDataString(name));

        foreach (var response in new[] { own, search })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(name, html, StringComparison.Ordinal);
            Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        }
    }
}
