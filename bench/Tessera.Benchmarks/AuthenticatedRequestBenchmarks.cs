using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Net.Http.Headers;
using Tessera.AspNetCore;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Benchmarks;

/// <summary>
/// What the demo's <c>GET /me</c> and <c>GET /api/me</c> run of Tessera, without a server: a request scope,
/// <see cref="TesseraMiddleware"/> and, inside it, what <c>UseAuthentication</c> does (the default scheme's
/// <c>AuthenticateAsync</c>, the principal set on the request), then the endpoint's read of the user's name. The session
/// was signed in with a principal of three claims (the demo's), over the memory store; <see cref="Credential"/> picks the
/// session cookie or an access token (<c>Authorization: Bearer</c>). The endpoint starts the response, as the demo's
/// JSON result does, so what runs at <c>OnStarting</c> (Tessera's commit) is measured too. <see cref="Handler"/>
/// <c>core</c> is <c>bench/core.patch</c> in process: the endpoint opts out of the session and a handler of its own
/// does only the irreducible work (the credential's check, the store's lookup) and answers with a fixed principal; the
/// distance between the two is what Tessera's session model costs above that.
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

    /// <summary>Who authenticates: <c>tessera</c> (its scheme and the session) or <c>core</c> (see the summary).</summary>
    [Params("tessera", "core")]
    public string Handler { get; set; } = "tessera";

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
        if (Handler == "core")
        {
            builder.Services.AddAuthentication(o => o.DefaultAuthenticateScheme = CoreAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, CoreAuthenticationHandler>(CoreAuthenticationHandler.SchemeName, null);
        }
        _host = builder.Build();
        var services = _host.Services;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        var manager = services.GetRequiredService<SessionManager>();
        var transports = services.GetServices<ISessionTransport>().ToArray();

        var signIn = new TesseraMiddleware(context => context.SignInAsync(TesseraAuthenticationDefaults.AuthenticationScheme, Principal()), manager, transports);
        using var signInScope = _scopes.CreateScope();
        var signInRequest = NewContext(signInScope.ServiceProvider, endpoint: null);
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

    private static DefaultHttpContext NewContext(IServiceProvider services, Endpoint? endpoint)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Features.Set<IHttpResponseFeature>(new StartingResponseFeature());
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = "/me";
        context.SetEndpoint(endpoint);
        return context;
    }

    private DefaultHttpContext NewRequest(IServiceProvider services)
    {
        var context = NewContext(services, Handler == "core" ? SessionlessEndpoint : PlainEndpoint);
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
        await ((StartingResponseFeature)context.Features.GetRequiredFeature<IHttpResponseFeature>()).StartAsync();
    }

    private static readonly Endpoint PlainEndpoint = new(null, EndpointMetadataCollection.Empty, "GET /me");
    private static readonly Endpoint SessionlessEndpoint = new(null, new EndpointMetadataCollection(new DisableTesseraSessionAttribute()), "GET /me");

    /// <summary>A response that runs its <c>OnStarting</c> callbacks when the endpoint starts it, as Kestrel's does.</summary>
    private sealed class StartingResponseFeature : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _starting = [];
        private bool _started;

        public override bool HasStarted => _started;

        public override void OnStarting(Func<object, Task> callback, object state) => _starting.Add((callback, state));

        public async Task StartAsync()
        {
            // Kestrel runs them last registered first.
            for (var i = _starting.Count - 1; i >= 0; i--)
            {
                await _starting[i].Callback(_starting[i].State);
            }
            _started = true;
        }
    }

    /// <summary>
    /// <c>bench/core.patch</c>'s handler: the credential's check and the store's lookup, then a fixed principal.
    /// </summary>
    private sealed class CoreAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, SessionManager sessions, TimeProvider clock)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "Core";

        private static readonly ClaimsPrincipal Customer = Principal();

        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var authorization = Request.Headers.Authorization.ToString();
            if (authorization.StartsWith("Bearer ", StringComparison.Ordinal))
            {
                var validation = sessions.Tokens.Codec.Validate(authorization[7..], TokenKind.Access, clock.GetUtcNow());
                var lookup = validation.Failure != TokenFailure.None ? null : await ((ISessionTokenStore)sessions.Store).LoadTokenAsync(validation.TokenId!, Context.RequestAborted);
                return lookup?.Session is null ? AuthenticateResult.NoResult() : AuthenticateResult.Success(new AuthenticationTicket(Customer, SchemeName));
            }
            var cookie = Request.Cookies["tessera"] ?? Request.Cookies["__Host-tessera"];
            if (cookie is null || sessions.Credentials.Verify(cookie, out var hash, out _) != CredentialRejection.None)
            {
                return AuthenticateResult.NoResult();
            }
            var record = await sessions.Store.LoadByCredentialAsync(hash!, Context.RequestAborted);
            return record is null ? AuthenticateResult.NoResult() : AuthenticateResult.Success(new AuthenticationTicket(Customer, SchemeName));
        }
    }

    private static ClaimsPrincipal Principal() => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, "alice"),
            new Claim(ClaimTypes.Name, "alice"),
            new Claim(ClaimTypes.Role, "customer"),
        ],
        "Demo.Passwordless"));
}
