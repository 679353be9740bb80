using Microsoft.Extensions.Time.Testing;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class MiddlewareTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly CountingSessionStore _store;
    private readonly string _staticRoot = Directory.CreateTempSubdirectory("tessera-static-").FullName;
    private TesseraTestServer _server = null!;

    public MiddlewareTests() => _store = new CountingSessionStore(new InMemorySessionStore(_clock));

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_staticRoot, "site.css"), "body { color: black; }");
        _server = await TesseraTestServer.StartAsync(_store, _clock, [SigningKeyRing.GenerateBase64Key()], mapExtraRoutes: app =>
        {
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(_staticRoot) });
            app.MapPost("/isession/{key}/{value}", (HttpContext context, string key, string value) =>
            {
                context.Session.SetString(key, value);
                return "ok";
            });
            app.MapGet("/isession/{key}", (HttpContext context, string key) => context.Session.GetString(key) ?? "(none)");
            app.MapGet("/isession-id", (HttpContext context) => context.Session.Id);
            app.MapPost("/isession-commit/{key}", async (HttpContext context, string key) =>
            {
                context.Session.SetString(key, "committed");
                await context.Session.CommitAsync();
                // The cookie is written by the explicit commit; later changes cannot be saved.
                try
                {
                    context.Session.SetString(key + "-late", "x");
                    return "late write accepted";
                }
                catch (InvalidOperationException)
                {
                    return "late write refused";
                }
            });
            app.MapGet("/accessor/{key}", async (HttpContext context, string key) =>
            {
                var session = await context.GetTesseraSessionAsync();
                return session.Get<string>(key) ?? "(none)";
            });
            app.MapGet("/streamed", async (HttpContext context) =>
            {
                var session = await context.GetTesseraSessionAsync();
                session.Set("streamed", "yes");
                await context.Response.WriteAsync("first chunk ");
                await context.Response.Body.FlushAsync();
                await context.Response.WriteAsync("second chunk");
            });
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_staticRoot, recursive: true);
    }

    [Fact]
    public async Task CodeWrittenForISessionReadsAndWritesTesseraSessions()
    {
        using var client = _server.CreateClient();

        await client.PostAsync("/isession/greeting/hello");

        Assert.NotNull(client.Cookie);
        Assert.Equal("hello", await client.GetStringAsync("/isession/greeting"));
        Assert.Equal("(none)", await client.GetStringAsync("/isession/missing"));
        Assert.Equal(await client.GetStringAsync("/id"), await client.GetStringAsync("/isession-id"));
    }

    [Fact]
    public async Task AnExplicitISessionCommitSetsTheCookieAndRefusesLaterWrites()
    {
        using var client = _server.CreateClient();

        Assert.Equal("late write refused", await client.PostAsync("/isession-commit/k"));

        Assert.NotNull(client.Cookie);
        Assert.Equal("committed", await client.GetStringAsync("/isession/k"));
    }

    [Fact]
    public async Task TheHttpContextAccessorLoadsTheSameSession()
    {
        using var client = _server.CreateClient();
        await client.PostAsync("/set/a/1");

        Assert.Equal("1", await client.GetStringAsync("/accessor/a"));
    }

    [Fact]
    public async Task AStreamedResponseStillCommitsBeforeItsFirstByte()
    {
        using var client = _server.CreateClient();

        Assert.Equal("first chunk second chunk", await client.GetStringAsync("/streamed"));

        Assert.NotNull(client.Cookie);
        Assert.Equal("yes", await client.GetStringAsync("/read/streamed"));
    }

    [Fact]
    public async Task AStaticFileRequestTouchesNoSessionAndSetsNoCookie()
    {
        using var client = _server.CreateClient();
        await client.PostAsync("/set/a/1");
        _store.Reset();

        using var response = await client.SendAsync(HttpMethod.Get, "/site.css");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task AnUnsignedCookieWithAnotherNameIsIgnored()
    {
        using var client = _server.CreateClient();
        await client.PostAsync("/signin/alice");

        using var response = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: "tessera=" + client.Cookie);

        Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ADuplicatedCookieNameNeverGivesAServerError()
    {
        using var client = _server.CreateClient();
        await client.PostAsync("/signin/alice");
        var name = client.CookieName;

        using var response = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: $"{name}=garbage; {name}={client.Cookie}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

public sealed class ConfigurationTests
{
    [Fact]
    public void AddTesseraTwiceRegistersOneMiddlewareSetOfServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()));
        services.AddTessera();

        Assert.Single(services, d => d.ServiceType == typeof(SessionManager));
        Assert.Single(services, d => d.ServiceType == typeof(ISessionTransport));
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
    }

    [Fact]
    public async Task AProductionAppWithoutAKeyFailsAtStartWithAClearMessage()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTessera();
        await using var app = builder.Build();
        app.UseTessera();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("Tessera:Keys is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostPrefixedCookieThatIsNotSecureFailsAtStart()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()))
            .ConfigureCookie(c =>
            {
                c.Name = "__Host-custom";
                c.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            });
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("__Host-", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OptionsComeFromTheTesseraConfigurationSectionAndCodeWinsOverIt()
    {
        var key = SigningKeyRing.GenerateBase64Key();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tessera:Keys:0"] = key,
            ["Tessera:IdleTimeout"] = "00:10:00",
            ["Tessera:AbsoluteLifetime"] = "02:00:00",
            ["Tessera:Cookie:Name"] = "__Host-shop",
        });
        builder.Services.AddTessera(o => o.AbsoluteLifetime = TimeSpan.FromHours(1));
        await using var app = builder.Build();
        await app.StartAsync();

        var options = app.Services.GetRequiredService<IOptions<TesseraOptions>>().Value;
        var cookie = app.Services.GetRequiredService<IOptions<TesseraCookieOptions>>().Value;

        Assert.Equal([key], options.Keys);
        Assert.Equal(TimeSpan.FromMinutes(10), options.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), options.AbsoluteLifetime);
        Assert.Equal("__Host-shop", cookie.Name);
        await app.StopAsync();
    }

    [Fact]
    public void AKeyThatIsTooShortIsNamedByPositionNeverByValue()
    {
        var shortKey = Convert.ToBase64String(new byte[16]);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        options.Keys.Add(shortKey);

        var result = new TesseraOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("#2", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, result.FailureMessage, StringComparison.Ordinal);
    }
}
