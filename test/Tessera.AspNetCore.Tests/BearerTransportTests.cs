using Microsoft.Extensions.Time.Testing;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class BearerTransportTests
{
    private static readonly BearerSessionTransport Transport = new(Options.Create(new TesseraOptions()));

    [Theory]
    [InlineData(null, null)]
    [InlineData("Basic dXNlcjpwYXNz", null)]
    [InlineData("Bearerish abc", null)]
    [InlineData("Bearer abc.def-_~+/==", "abc.def-_~+/==")]
    [InlineData("bearer abc", "abc")]
    [InlineData("BEARER   abc", "abc")]
    [InlineData("Bearer", "")]
    [InlineData("Bearer ", "")]
    [InlineData("Bearer a b", "")]
    [InlineData("Bearer a,b", "")]
    [InlineData("Bearer ====", "")]
    [InlineData("Bearer é", "")]
    [InlineData("Bearer abc=def", "")]
    // Past the width of one vector the check still looks at every character.
    [InlineData("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ=", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ=")]
    [InlineData("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ;", "")]
    [InlineData("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9\u00e9c2lnbmF0dXJlLXBhcnQ", "")]
    public void TheBearerHeaderIsParsedStrictly(string? header, string? expected)
    {
        var context = new DefaultHttpContext();
        if (header is not null)
        {
            context.Request.Headers.Authorization = header;
        }

        Assert.Equal(expected, Transport.ReadCredential(context));
    }

    [Fact]
    public void ATokenLongerThanTheCapIsInvalidWithoutBeingCopied()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = "Bearer " + new string('a', new TesseraOptions().Tokens.MaxTokenLength + 1);

        Assert.Equal(string.Empty, Transport.ReadCredential(context));
    }

    [Fact]
    public void TwoBearerHeadersAreInvalidAndOtherSchemesBesideOneAreIgnored()
    {
        var two = new DefaultHttpContext();
        two.Request.Headers.Authorization = new(["Bearer abc", "Bearer def"]);
        var mixed = new DefaultHttpContext();
        mixed.Request.Headers.Authorization = new(["Basic dXNlcjpwYXNz", "Bearer def"]);

        Assert.Equal(string.Empty, Transport.ReadCredential(two));
        Assert.Equal("def", Transport.ReadCredential(mixed));
    }

    [Fact]
    public async Task BearerTokensAreOptInAndEveryRegistrationIsSafeToRepeat()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddSingleton<Microsoft.Extensions.Hosting.IHostEnvironment>(new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { EnvironmentName = "Production" });
        services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()));
        Assert.Single(services, d => d.ServiceType == typeof(ISessionTransport));

        services.AddTessera().AddBearerTokens();
        services.AddTessera().AddBearerTokens();
        services.AddTesseraAuthentication();
        services.AddTesseraAuthentication();

        using var provider = services.BuildServiceProvider();
        var transports = provider.GetServices<ISessionTransport>().ToList();
        Assert.Equal(2, transports.Count);
        Assert.Contains(transports, t => t is CookieSessionTransport);
        Assert.Contains(transports, t => t is BearerSessionTransport);
        Assert.Same(provider.GetRequiredService<BearerSessionTransport>(), transports.OfType<BearerSessionTransport>().Single());
        var schemes = provider.GetRequiredService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>();
        Assert.Single(await schemes.GetAllSchemesAsync());
    }

    [Fact]
    public async Task WithoutBearerTokensAnAuthorizationHeaderIsLeftToOthersAndTheCookieServes()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        await using var server = await TesseraTestServer.StartAsync(new InMemorySessionStore(clock), clock, [SigningKeyRing.GenerateBase64Key()]);
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        client.AccessToken = "an.identity-provider.jwt";

        using var response = await client.SendAsync(HttpMethod.Post, "/set/b/2", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        client.AccessToken = null;
        Assert.Equal("a,b", await client.GetStringAsync("/keys"));
    }

    [Fact]
    public async Task AuthenticationRunningBeforeUseTesseraSharesTheSessionAndLoadsItOnce()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var store = new CountingSessionStore(new InMemorySessionStore(clock));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())).UseStore(_ => store).AddBearerTokens();
        builder.Services.AddTesseraAuthentication();
        await using var app = builder.Build();
        // Authentication first, the order WebApplication itself uses when it adds the middleware automatically.
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseTessera();
        app.MapPost("/cart/{item}", (HttpSession session, HttpContext context, string item) =>
        {
            session.Set("cart", item);
            return $"{context.User.Identity!.Name}:{session.Get<string>("cart")}";
        }).RequireAuthorization();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var pair = await app.Services.GetRequiredService<SessionManager>().Tokens.CreateAsync("alice");
        using var client = new CookieClient(address, "tessera") { AccessToken = pair.AccessToken };
        store.Reset();

        Assert.Equal("alice:apple", await client.PostAsync("/cart/apple"));

        Assert.Equal(1, store.Reads);
        Assert.Equal(1, store.Writes);
        Assert.Equal("\"apple\"", (await app.Services.GetRequiredService<SessionManager>().Tokens.GetAsync(pair.AccessToken)).Value!.Data["cart"]);
        await app.StopAsync();
    }
}
