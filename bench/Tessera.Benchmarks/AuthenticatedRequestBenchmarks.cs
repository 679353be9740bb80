using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Net.Http.Headers;
using Tessera.AspNetCore;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// What the demo's <c>GET /me</c> and <c>GET /api/me</c> run of Tessera, without a server: a request scope,
/// <see cref="TesseraMiddleware"/> and, inside it, what <c>UseAuthentication</c> does (the default scheme's
/// <c>AuthenticateAsync</c>, the principal set on the request), then the endpoint's read of the user's name. The session
/// was signed in with a principal of three claims (the demo's), over the memory store; <see cref="Credential"/> picks the
/// session cookie or an access token (<c>Authorization: Bearer</c>).
/// </summary>
[MemoryDiagnoser]
public class AuthenticatedRequestBenchmarks
{
    private IHost _host = null!;
    private TesseraMiddleware _middleware = null!;
    private IServiceScopeFactory _scopes = null!;
    private string _cookieHeader = null!;
    private string _authorization = null!;

    /// <summary>The credential the request carries: <c>cookie</c> or <c>bearer</c>.</summary>
    [Params("cookie", "bearer")]
    public string Credential { get; set; } = "cookie";

    /// <summary>The name the endpoint read last (kept here so the endpoint allocates nothing of its own).</summary>
    public string? LastName { get; private set; }

    /// <summary>Builds the services, signs one cookie session and one token session in with the demo's principal.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddLogging();
        builder.Services.AddTessera(options =>
        {
            options.Keys.Add(BenchSessions.Key);
            options.CleanupEnabled = false;
        }).UseStore(_ => new InMemorySessionStore(clock)).AddBearerTokens();
        builder.Services.AddTesseraAuthentication();
        _host = builder.Build();
        var services = _host.Services;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        var manager = services.GetRequiredService<SessionManager>();
        var transports = services.GetServices<ISessionTransport>().ToArray();

        var signIn = new TesseraMiddleware(context => context.SignInAsync(TesseraAuthenticationDefaults.AuthenticationScheme, Principal()), manager, transports);
        using var signInScope = _scopes.CreateScope();
        var signInRequest = NewContext(signInScope.ServiceProvider);
        signIn.InvokeAsync(signInRequest).GetAwaiter().GetResult();
        var setCookie = SetCookieHeaderValue.Parse(signInRequest.Response.Headers.SetCookie.ToString());
        _cookieHeader = $"{setCookie.Name}={setCookie.Value}";

        var pair = manager.Tokens.CreateAsync(Principal()).AsTask().GetAwaiter().GetResult();
        _authorization = "Bearer " + pair.AccessToken;

        _middleware = new TesseraMiddleware(AuthenticateAndReadAsync, manager, transports);
        using var checkScope = _scopes.CreateScope();
        var check = NewRequest(checkScope.ServiceProvider);
        _middleware.InvokeAsync(check).GetAwaiter().GetResult();
        if (LastName != "alice")
        {
            throw new InvalidOperationException($"The {Credential} request did not authenticate (status {check.Response.StatusCode}).");
        }
    }

    /// <summary>Stops the host.</summary>
    [GlobalCleanup]
    public void Cleanup() => _host.Dispose();

    /// <summary>One request: scope, middleware, authentication, the endpoint's read of the name.</summary>
    [Benchmark]
    public async Task Request()
    {
        await using var scope = _scopes.CreateAsyncScope();
        await _middleware.InvokeAsync(NewRequest(scope.ServiceProvider));
    }

    private static DefaultHttpContext NewContext(IServiceProvider services)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = "/me";
        return context;
    }

    private DefaultHttpContext NewRequest(IServiceProvider services)
    {
        var context = NewContext(services);
        if (Credential == "bearer")
        {
            context.Request.Headers.Authorization = _authorization;
        }
        else
        {
            context.Request.Headers[HeaderNames.Cookie] = _cookieHeader;
        }
        return context;
    }

    private async Task AuthenticateAndReadAsync(HttpContext context)
    {
        var result = await context.AuthenticateAsync();
        if (result.Principal is { } principal)
        {
            context.User = principal;
        }
        LastName = context.User.Identity?.Name;
    }

    private static ClaimsPrincipal Principal() => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, "alice"),
            new Claim(ClaimTypes.Name, "alice"),
            new Claim(ClaimTypes.Role, "customer"),
        ],
        "Demo.Passwordless"));
}
