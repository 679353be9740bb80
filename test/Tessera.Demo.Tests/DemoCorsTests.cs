using System.Net;

namespace Tessera.Demo.Tests;

/// <summary>
/// The token API's CORS policy (<c>Demo:CorsOrigins</c>) over real HTTP: the configured origins may call <c>/api/...</c>
/// with a bearer token and read <c>WWW-Authenticate</c>; no other origin, no cookie route and no credentials.
/// </summary>
public sealed class DemoCorsTests
{
    private const string App = "http://127.0.0.1:5173";

    [Fact]
    public async Task AConfiguredOriginMayCallTheTokenApiWithABearerTokenAndReadItsChallenge()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: [$"--Demo:CorsOrigins={App}/"]);
        using var client = new HttpClient { BaseAddress = server.BaseAddress };

        using var preflight = await client.SendAsync(Preflight("/api/me", App, "GET", "authorization"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal(App, Header(preflight, "Access-Control-Allow-Origin"));
        Assert.Contains("authorization", Header(preflight, "Access-Control-Allow-Headers")!, StringComparison.OrdinalIgnoreCase);
        Assert.Null(Header(preflight, "Access-Control-Allow-Credentials"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        request.Headers.Add("Origin", App);
        request.Headers.Authorization = new("Bearer", "not-a-token");
        using var refused = await client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(App, Header(refused, "Access-Control-Allow-Origin"));
        Assert.Equal("WWW-Authenticate", Header(refused, "Access-Control-Expose-Headers"));
    }

    [Theory]
    [InlineData(null, "/api/refresh", "http://127.0.0.1:5173")] // nothing configured: no origin at all
    [InlineData(App, "/api/refresh", "http://127.0.0.1:5174")] // another port is another origin
    [InlineData(App, "/login", App)] // the cookie routes stay same-origin
    [InlineData(App, "/me", App)]
    public async Task NoOtherOriginOrRouteIsOpened(string? configured, string path, string origin)
    {
        await using var server = await DemoServer.StartAsync("memory", extra: configured is null ? [] : [$"--Demo:CorsOrigins={configured}"]);
        using var client = new HttpClient { BaseAddress = server.BaseAddress };

        using var preflight = await client.SendAsync(Preflight(path, origin, "POST", "content-type"), TestContext.Current.CancellationToken);

        Assert.Null(Header(preflight, "Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("http://127.0.0.1:5173/app")]
    [InlineData("127.0.0.1:5173")]
    [InlineData("ftp://example.com")]
    public void AValueThatIsNotAnOriginStopsStartUpNamingIt(string value)
    {
        using var data = new TempDirectory();

        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Development", data.Path, $"--Demo:CorsOrigins={value}")));

        Assert.Contains($"Demo:CorsOrigins holds '{value}'", failure.Message, StringComparison.Ordinal);
    }

    private static HttpRequestMessage Preflight(string path, string origin, string method, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}
