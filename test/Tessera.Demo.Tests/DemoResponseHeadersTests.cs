using System.Net.Http.Json;

namespace Tessera.Demo.Tests;

/// <summary>
/// Every route of DESIGN.md's demo contract, and the demo's other pages, answers with headers that keep it out of
/// caches (<c>Cache-Control: no-store</c> on everything dynamic) and out of other sites' frames (CSP
/// <c>frame-ancestors 'none'</c>, <c>X-Frame-Options: DENY</c> on everything), anonymous or signed in, whether or not
/// the response sets a cookie.
/// </summary>
public sealed class DemoResponseHeadersTests
{
    [Fact]
    public async Task EveryRouteIsNoStoreAndUnframeableSignedInOrNot()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: Operator.Argument);
        using var anonymous = server.CreateClient();
        using var alice = server.CreateClient();
        using var aliceElsewhere = server.CreateClient();
        using var api = server.CreateClient();
        using var operatorClient = server.CreateClient();
        var failures = new List<string>();

        async Task Check(DemoClient client, HttpMethod method, string path, object? body = null, bool dynamic = true, string? tab = null)
        {
            using var response = await client.SendAsync(method, path, body is null ? null : JsonContent.Create(body), tab is null ? null : new() { ["X-Tessera-Tab"] = tab });
            var cacheControl = response.Headers.CacheControl;
            var what = $"{method} {path} ({(int)response.StatusCode}{(client.LastSetCookies.Count > 0 ? ", sets a cookie" : "")})";
            if (dynamic && cacheControl?.NoStore != true)
            {
                failures.Add($"{what}: Cache-Control is '{cacheControl}', not no-store");
            }
            if (!response.Headers.TryGetValues("X-Frame-Options", out var frame) || frame.Single() != "DENY")
            {
                failures.Add($"{what}: no X-Frame-Options: DENY");
            }
            if (!response.Headers.TryGetValues("Content-Security-Policy", out var csp) || !csp.Single().Contains("frame-ancestors 'none'", StringComparison.Ordinal))
            {
                failures.Add($"{what}: no CSP frame-ancestors 'none'");
            }
        }

        // Anonymous visitors: the static pages, the HTML pages and the JSON routes that read no session.
        await Check(anonymous, HttpMethod.Get, "/", dynamic: false);
        await Check(anonymous, HttpMethod.Get, "/pos.html", dynamic: false);
        await Check(anonymous, HttpMethod.Get, "/pos", dynamic: false);
        await Check(anonymous, HttpMethod.Get, "/account/sessions");
        await Check(anonymous, HttpMethod.Get, "/admin/sessions");
        await Check(anonymous, HttpMethod.Get, "/admin/sign-in");
        await Check(anonymous, HttpMethod.Get, "/me");
        await Check(anonymous, HttpMethod.Get, "/cart");
        await Check(anonymous, HttpMethod.Get, "/flash");
        await Check(anonymous, HttpMethod.Get, "/counters");
        await Check(anonymous, HttpMethod.Get, "/sessions");
        await Check(anonymous, HttpMethod.Get, "/healthz");
        await Check(anonymous, HttpMethod.Get, "/admin/stats");
        await Check(anonymous, HttpMethod.Get, "/api/me");

        // A signed-in cookie session: after sign-in the requests below send a cookie and most set none.
        await Check(alice, HttpMethod.Post, "/login", new { user = "alice" });
        var other = (await aliceElsewhere.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" })).GetProperty("sessionId").GetString();
        await Check(alice, HttpMethod.Get, "/me");
        await Check(alice, HttpMethod.Post, "/cart", new { item = "apple" });
        await Check(alice, HttpMethod.Get, "/cart");
        await Check(alice, HttpMethod.Post, "/flash", new { message = "hi" });
        await Check(alice, HttpMethod.Get, "/flash");
        await Check(alice, HttpMethod.Post, "/counter/visits");
        await Check(alice, HttpMethod.Get, "/counters");
        await Check(alice, HttpMethod.Get, "/sessions");
        await Check(alice, HttpMethod.Get, "/account/sessions");
        await Check(alice, HttpMethod.Get, "/admin/sessions");
        await Check(alice, HttpMethod.Delete, $"/sessions/{other}");
        await Check(alice, HttpMethod.Post, "/sessions/revoke-others");
        var tab = (await alice.JsonAsync(HttpMethod.Post, "/pos/tabs")).GetProperty("tab").GetString();
        await Check(alice, HttpMethod.Post, "/pos/tabs");
        await Check(alice, HttpMethod.Post, "/pos/cart", new { item = "pear" }, tab: tab);
        await Check(alice, HttpMethod.Get, "/pos/cart", tab: tab);
        await Check(alice, HttpMethod.Post, "/pos/checkout", tab: tab);
        await Check(alice, HttpMethod.Get, "/", dynamic: false);
        await Check(alice, HttpMethod.Post, "/logout");

        // A token session.
        await Check(api, HttpMethod.Post, "/api/login", new { user = "bob" });
        var pair = await api.JsonAsync(HttpMethod.Post, "/api/login", new { user = "bob" });
        api.AccessToken = pair.GetProperty("accessToken").GetString();
        await Check(api, HttpMethod.Get, "/api/me");
        await Check(api, HttpMethod.Post, "/api/cart", new { item = "plum" });
        await Check(api, HttpMethod.Get, "/api/cart");
        await Check(api, HttpMethod.Post, "/api/refresh", new { refreshToken = pair.GetProperty("refreshToken").GetString() });
        await Check(api, HttpMethod.Post, "/api/logout");

        // The operator.
        Assert.Equal(System.Net.HttpStatusCode.SeeOther, (await Operator.SignInAsync(operatorClient)).StatusCode);
        await Check(operatorClient, HttpMethod.Get, "/admin/sessions?user=alice");
        await Check(operatorClient, HttpMethod.Get, "/me");

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
