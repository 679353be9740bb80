using System.Net;
using Microsoft.AspNetCore.Rewrite;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tessera.AspNetCore;
using Tessera.Demo.Pages;
using Tessera.PostgreSql;
using Tessera.Redis;

namespace Tessera.Demo;

/// <summary>
/// Builds the demo application. Program.cs runs it; the tests build it with their own arguments (a random port, a
/// temporary data directory, another environment or store) and drive it over real HTTP.
/// </summary>
public static class DemoApp
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    public static WebApplication Build(string[] args) => Build(args, configureServices: null);

    /// <summary>Builds the demo; <paramref name="configureServices"/> runs last (the tests replace the clock with it).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices)
    {
        ArgumentNullException.ThrowIfNull(args);
        var environmentDefaulted = !EnvironmentConfigured(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // The tests host the demo in the test runner's process; the name keeps static web assets and logs the demo's.
            ApplicationName = typeof(DemoApp).Assembly.GetName().Name,
            // `dotnet run --no-launch-profile` (or running the built dll) has no ASPNETCORE_ENVIRONMENT: the demo is for
            // trying things out, so it starts in Development rather than failing for want of a production key.
            EnvironmentName = environmentDefaulted ? Environments.Development : null,
        });

        if (!UrlsConfigured(builder.Configuration))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var settings = DemoSettings.From(builder.Configuration, builder.Environment);
        var developmentKey = settings.ConfiguredKeys.Count == 0 && builder.Environment.IsDevelopment()
            ? DevelopmentSigningKey.LoadOrCreate(settings.DataDirectory)
            : null;

        builder.Services.AddProblemDetails();
        // AddTessera binds the "Tessera" section; the keys are set again here because the demo also accepts them as
        // one comma-separated value and falls back to the development key.
        var tessera = builder.Services.AddTessera(options =>
        {
            options.Keys.Clear();
            foreach (var key in settings.ConfiguredKeys)
            {
                options.Keys.Add(key);
            }
            if (options.Keys.Count == 0 && developmentKey is not null)
            {
                options.Keys.Add(developmentKey.Key);
            }
        });
        DemoStores.Use(tessera, settings);
        // Mobile and single-page clients: Authorization: Bearer opens the token's session; every other request keeps the
        // cookie. Authentication makes [Authorize]/RequireAuthorization() and HttpContext.User work for both.
        tessera.AddBearerTokens();
        builder.Services.AddTesseraAuthentication();
        // The pages' forms carry antiforgery tokens; the operator page is for sessions signed in with the operator
        // password (Demo:OperatorPasswordHash), never for a user name typed on the home page.
        builder.Services.AddAntiforgery();
        // The pages are Razor components, rendered on the server only (RazorComponentResult from the pages' routes).
        builder.Services.AddRazorComponents();
        builder.Services.AddAuthorization(options => options.AddPolicy(OperatorSignIn.Policy, OperatorSignIn.Require));
        builder.Services.AddDemoRateLimits(settings);
        // The live page's hub: every connection is closed when its session ends, on every instance. The encrypted cookie
        // store keeps sessions in the browser, where the server cannot see them end, so it gets the hub without that.
        var signalR = builder.Services.AddSignalR();
        if (settings.Store != "cookie")
        {
            signalR.AddTesseraConnectionLifetime();
        }
        builder.Services.AddDemoCors(settings);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        // Validation would run anyway when the host starts, but the host logs the failure with a stack trace; failing
        // here leaves the validator's own message (say, "Tessera:Keys is empty: ...") as all the user sees.
        try
        {
            _ = app.Services.GetRequiredService<IOptions<TesseraOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<TesseraCookieOptions>>().Value;
        }
        catch (OptionsValidationException)
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        if (environmentDefaulted)
        {
            DemoLog.DefaultedToDevelopment(app.Logger);
        }
        if (developmentKey is not null)
        {
            DemoLog.DevelopmentKey(app.Logger, developmentKey.Created ? "generated and saved to" : "loaded from", developmentKey.Path);
        }
        DemoLog.Starting(app.Logger, app.Environment.EnvironmentName, settings.Store, settings.StoreLocation + (settings.NearCache ? ", with the near cache" : ""));

        // First, so that every answer (static pages and error pages too) forbids other sites to frame it.
        app.UseFrameDenial();
        // Always a plain problem response, Development included: ASP.NET Core's developer error page echoes the request's
        // headers, and with them the session cookie, which must never be shown back.
        app.UseExceptionHandler();
        // The operator page's 401 and 403 come from its authorization policy with no body; this gives them one.
        app.UseStatusCodePages(DemoPages.WriteStatusPageAsync);
        // Static files come first and end the request there, so serving the page never reads or writes a session.
        var webRoot = WebRoot(app.Environment);
        // The point of sale's address is /pos; the file behind it is pos.html, served as the static file it is.
        app.UseRewriter(new RewriteOptions().AddRewrite("^pos$", "pos.html", skipRemainingRules: true));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = webRoot });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = webRoot });
        // Everything past the static files speaks of a session: no cache may keep it.
        app.UseNoStoreForDynamicResponses();
        // Routing before Tessera, so endpoints marked DisableSession() are known to the session middleware.
        app.UseRouting();
        // After routing (it needs the endpoint's policy: only the token API has one) and before everything that could
        // refuse a preflight: an OPTIONS request is answered here and never reaches the rate limiter or a session.
        app.UseCors();
        // Right after routing (it needs the endpoint's policy) and before Tessera: a refused request costs no store read.
        app.UseRateLimiter();
        app.UseTessera();
        // Explicitly after UseTessera (and after the static files): the handler shares the request's session, and a
        // request for the page never authenticates, so it never reads the store.
        app.UseAuthentication();
        app.UseAuthorization();

        DemoEndpoints.Map(app);
        DemoTokenEndpoints.Map(app);
        DemoTabEndpoints.Map(app);
        DemoSessionHub.Map(app);
        DemoPages.Map(app, settings.OperatorPasswordHash);
        return app;
    }

    /// <summary>
    /// Reaches a server store before the host starts, so Program.cs can report an unreachable or silent server in one
    /// line: PostgreSQL's tables are created or upgraded now (the host would apply them at start anyway, through
    /// <c>ApplyMigrationsAtStartup</c>; the second run finds the schema current), Redis answers one cheap count. A server
    /// that accepts connections but never answers ends in <see cref="DemoStoreUnavailableException"/> after the client's
    /// own timeout, or after <c>Demo:StoreStartupTimeoutSeconds</c> (default 30) whichever comes first; so does a Redis
    /// that cannot be reached or refuses the connection (StackExchange.Redis's <see cref="RedisException"/>).
    /// </summary>
    public static async Task PrepareStoreAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        var settings = DemoSettings.From(app.Configuration, app.Environment);
        // Waited for with a deadline of its own rather than cancelled: a client may not give up on a silent server when
        // asked to (Npgsql with Timeout=0 does not, during the connection's start-up).
        var check = ReachStoreAsync(app.Services, cancellationToken);
        try
        {
            await check.WaitAsync(settings.StoreStartupTimeout, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException || e.InnerException is TimeoutException)
        {
            // The start-up deadline, or the client's own timeout (Npgsql's Timeout, a Redis command with no reply): the
            // server took the connection and said nothing. Unreachable servers and refusals keep their own messages.
            var setting = settings.Store == "postgres" ? "ConnectionStrings:Postgres" : "ConnectionStrings:Redis";
            var waited = !check.IsCompleted
                ? $"no answer within {settings.StoreStartupTimeout.TotalSeconds:0} seconds (Demo:StoreStartupTimeoutSeconds)"
                : (e as TimeoutException ?? e.InnerException!).Message;
            throw new DemoStoreUnavailableException($"{settings.StoreLocation} ({setting}) accepted the connection but did not answer: {waited}", e);
        }
        catch (RedisException e)
        {
            // Unreachable, a refused password or certificate, a failed command: one line naming the setting and the
            // endpoints. StackExchange.Redis's messages name endpoints and reasons, never the configuration string.
            throw new DemoStoreUnavailableException(
                $"Redis (ConnectionStrings:Redis) could not be used at {DemoStores.DescribeRedis(settings.RedisConnectionString)}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private static async Task ReachStoreAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        if (services.GetService<PostgreSqlSessionStore>() is { } postgres)
        {
            await postgres.EnsureSchemaAsync(cancellationToken);
        }
        if (services.GetService<RedisSessionStore>() is { } redis)
        {
            _ = await redis.CountAsync(cancellationToken);
        }
    }

    internal static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static bool EnvironmentConfigured(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build();
        return !string.IsNullOrEmpty(configuration[HostDefaults.EnvironmentKey]);
    }

    private static bool UrlsConfigured(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
        || !string.IsNullOrEmpty(configuration["http_ports"])
        || !string.IsNullOrEmpty(configuration["https_ports"])
        || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();

    private static IFileProvider WebRoot(IWebHostEnvironment environment)
    {
        // Run from the project, the content root holds wwwroot; hosted by the tests or run from another directory, the
        // copy next to the assembly serves instead.
        if (environment.WebRootFileProvider.GetFileInfo("index.html").Exists)
        {
            return environment.WebRootFileProvider;
        }
        return new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
    }
}
