using Microsoft.Extensions.Logging.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.AspNetCore;

namespace Tessera.Testing;

/// <summary>
/// A real Kestrel server on a free loopback port running Tessera over a given store and clock, with the routes the
/// HTTP conformance suite drives. Dispose it to stop it.
/// </summary>
public sealed class TesseraTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TesseraTestServer(WebApplication app, Uri address, FakeLogCollector logs)
    {
        _app = app;
        Address = address;
        Logs = logs;
    }

    /// <summary>The server's base address (http://127.0.0.1:port/).</summary>
    public Uri Address { get; }

    /// <summary>Everything the server logged.</summary>
    public FakeLogCollector Logs { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The server's session manager (to mint token pairs with <see cref="SessionManager.Tokens"/>).</summary>
    public SessionManager Manager => _app.Services.GetRequiredService<SessionManager>();

    /// <summary>The session cookie's name in force.</summary>
    public string CookieName => _app.Services.GetRequiredService<CookieSessionTransport>().CookieName;

    /// <summary>Starts a server.</summary>
    /// <param name="store">The store (shared across servers to simulate restarts or several instances).</param>
    /// <param name="clock">The clock.</param>
    /// <param name="keys">Base64 signing keys; the first signs.</param>
    /// <param name="environment">The host environment name. Default <c>Production</c>.</param>
    /// <param name="configure">Further option changes, or <see langword="null"/>.</param>
    /// <param name="mapExtraRoutes">More routes to map, or <see langword="null"/>.</param>
    /// <param name="bearerTokens">
    /// Whether to turn on bearer-token sessions (<c>AddBearerTokens()</c>) and map the token endpoints under <c>/tokens</c>.
    /// </param>
    /// <param name="authentication">
    /// Whether to add Tessera authentication as the default scheme, with <c>UseAuthentication()</c> and
    /// <c>UseAuthorization()</c> after <c>UseTessera()</c>, and map the <c>/auth/...</c> routes.
    /// </param>
    /// <param name="configureServices">
    /// Registers more services after Tessera's, or <see langword="null"/>: say, <c>AddHttpContextAccessor()</c> for a
    /// store that reaches the request (the cookie store).
    /// </param>
    /// <returns>The started server.</returns>
    public static async Task<TesseraTestServer> StartAsync(
        ISessionStore store,
        TimeProvider clock,
        IEnumerable<string> keys,
        string environment = "Production",
        Action<TesseraOptions>? configure = null,
        Action<WebApplication>? mapExtraRoutes = null,
        bool bearerTokens = false,
        bool authentication = false,
        Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        var keyList = keys.ToList();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        var logs = new FakeLogCollector();
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddSingleton(clock);
        var tessera = builder.Services.AddTessera(options =>
        {
            foreach (var key in keyList)
            {
                options.Keys.Add(key);
            }
            options.CleanupEnabled = false;
            configure?.Invoke(options);
        }).UseStore(_ => store);
        if (bearerTokens)
        {
            tessera.AddBearerTokens();
        }
        if (authentication)
        {
            builder.Services.AddTesseraAuthentication();
        }
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseTessera();
        if (authentication)
        {
            app.UseAuthentication();
            app.UseAuthorization();
            MapAuthenticationRoutes(app);
        }
        if (bearerTokens)
        {
            app.MapTesseraTokenEndpoints("/tokens");
        }
        MapRoutes(app);
        mapExtraRoutes?.Invoke(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TesseraTestServer(app, new Uri(address), logs);
    }

    /// <summary>Creates a client for this server that keeps the session cookie by hand.</summary>
    /// <returns>The client.</returns>
    public CookieClient CreateClient() => new(Address, CookieName);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static void MapAuthenticationRoutes(WebApplication app)
    {
        static string Describe(HttpContext context) => context.User.Identity is { IsAuthenticated: true } identity
            ? string.Join('|', identity.Name, context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value, context.User.FindFirst(TesseraAuthenticationDefaults.SessionIdClaimType)?.Value, identity.AuthenticationType)
            : "(anonymous)";
        app.MapGet("/auth/user", Describe).RequireAuthorization();
        app.MapGet("/auth/attribute", [Microsoft.AspNetCore.Authorization.Authorize] (HttpContext context) => Describe(context));
        app.MapGet("/auth/optional", Describe);
        app.MapGet("/auth/admin", Describe).RequireAuthorization(policy => policy.RequireRole("admin"));
    }

    private static void MapSubjectRoutes(WebApplication app)
    {
        // One line per session of the signed-in subject: "id|current|ip" (current is "*" or "-").
        app.MapGet("/my-sessions", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            if (session.Subject is not { } subject)
            {
                return Results.Text("(anonymous)", statusCode: StatusCodes.Status401Unauthorized);
            }
            var sessions = await manager.Subjects.ListAsync(subject, session.Id, cancellationToken);
            return Results.Text(string.Join('\n', sessions.Select(s => $"{s.Id}|{(s.IsCurrent ? "*" : "-")}|{s.IpAddress ?? "(none)"}")));
        });
        app.MapPost("/my-sessions/{id}/revoke", async (HttpSession session, SessionManager manager, string id, CancellationToken cancellationToken) =>
            session.Subject is { } subject
                ? Results.Text((await manager.Subjects.RevokeAsync(subject, id, cancellationToken)).ToString())
                : Results.Text("(anonymous)", statusCode: StatusCodes.Status401Unauthorized));
        app.MapPost("/my-sessions/revoke-others", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
            session.Subject is { } subject
                ? Results.Text((await manager.Subjects.RevokeOthersAsync(subject, session.Id, cancellationToken)).ToString(System.Globalization.CultureInfo.InvariantCulture))
                : Results.Text("(anonymous)", statusCode: StatusCodes.Status401Unauthorized));
        app.MapPost("/my-sessions/revoke-all", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
            session.Subject is { } subject
                ? Results.Text((await manager.Subjects.RevokeAllAsync(subject, cancellationToken)).ToString(System.Globalization.CultureInfo.InvariantCulture))
                : Results.Text("(anonymous)", statusCode: StatusCodes.Status401Unauthorized));
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapGet("/plain", () => "plain");
        app.MapGet("/read/{key}", (HttpSession session, string key) => session.Get<string>(key) ?? "(none)");
        app.MapGet("/read-int/{key}", (HttpSession session, string key) => session.Get<int>(key).ToString(System.Globalization.CultureInfo.InvariantCulture));
        app.MapGet("/keys", (HttpSession session) => string.Join(',', session.Keys.Order(StringComparer.Ordinal)));
        app.MapPost("/set/{key}/{value}", (HttpSession session, string key, string value) =>
        {
            session.Set(key, value);
            return "ok";
        });
        app.MapPost("/remove/{key}", (HttpSession session, string key) =>
        {
            session.Remove(key);
            return "ok";
        });
        app.MapPost("/flash/{value}", (HttpSession session, string value) =>
        {
            session.SetFlash("message", value);
            return "ok";
        });
        app.MapGet("/flash", (HttpSession session) => session.GetFlash<string>("message") ?? "(none)");
        app.MapPost("/signin/{user}", (HttpSession session, string user) =>
        {
            session.SignIn(user);
            return "ok";
        });
        app.MapGet("/whoami", (HttpSession session) => session.Subject ?? "(anonymous)");
        MapSubjectRoutes(app);
        app.MapGet("/id", (HttpSession session) => session.IsNew ? "(new)" : session.Id);
        app.MapPost("/regenerate", (HttpSession session) =>
        {
            session.Regenerate();
            return "ok";
        });
        app.MapPost("/destroy", (HttpSession session) =>
        {
            session.Destroy();
            return "ok";
        });
        app.MapPost("/throw/{key}", (HttpSession session, string key) =>
        {
            session.Set(key, "never");
            throw new InvalidOperationException("The handler failed on purpose.");
        });
        app.MapGet("/disabled", (HttpContext context) =>
        {
            try
            {
                context.GetTesseraSession();
                return "enabled";
            }
            catch (InvalidOperationException)
            {
                return "disabled";
            }
        }).DisableSession();
    }
}
