using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// How <c>AddTesseraTicketStore</c> is set up: which stores and schemes it serves, and what it refuses at start-up. The
/// behaviour on every store is <see cref="Testing.TicketStoreConformanceTests{TKit}"/>.
/// </summary>
public sealed class TicketStoreSetupTests
{
    private static readonly string Key = SigningKeyRing.GenerateBase64Key();

    [Fact]
    public async Task TheEncryptedCookieStoreFailsTheHostsStartWithAClearError()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(
            tessera => tessera.UseCookieStore(),
            services => services.AddTesseraTicketStore()));

        Assert.Contains("encrypted cookie store (UseCookieStore())", error.Message, StringComparison.Ordinal);
        Assert.Contains("server-side store", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheTicketStoreWithoutAddTesseraFailsTheHostsStart()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddTesseraTicketStore(CookieAuthenticationDefaults.AuthenticationScheme);
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("call services.AddTessera() too", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnlyTheNamedSchemeKeepsItsTicketInTessera()
    {
        await using var app = await StartAsync(_ => { }, services => services.AddTesseraTicketStore("Cookies"));
        using var client = new CookieJarClient(Address(app));

        using var other = await client.SendAsync(HttpMethod.Post, "/login/Other/alice");
        Assert.NotNull(client.LastSetCookie(".AspNetCore.Other"));
        Assert.Null(client.LastSetCookie("tessera"));
        using var cookies = await client.SendAsync(HttpMethod.Post, "/login/Cookies/alice");

        Assert.Null(client.LastSetCookie(".AspNetCore.Cookies"));
        Assert.NotNull(client.LastSetCookie("tessera"));
        Assert.Equal((HttpStatusCode.OK, "alice"), await client.CallAsync(HttpMethod.Get, "/user/Cookies"));
        Assert.Equal((HttpStatusCode.OK, "alice"), await client.CallAsync(HttpMethod.Get, "/user/Other"));
    }

    [Fact]
    public async Task SigningOutOfOneSchemeKeepsTheSessionWhileAnotherSchemeStillKeepsATicketInIt()
    {
        await using var app = await StartAsync(_ => { }, services => services.AddTesseraTicketStore());
        using var client = new CookieJarClient(Address(app));
        using var first = await client.SendAsync(HttpMethod.Post, "/login/Cookies/alice");
        using var second = await client.SendAsync(HttpMethod.Post, "/login/Other/alice");
        Assert.DoesNotContain(client.LastSetCookies, c => c.StartsWith(".AspNetCore.", StringComparison.Ordinal));

        using var signOutOther = await client.SendAsync(HttpMethod.Post, "/logout/Other");

        Assert.Equal((HttpStatusCode.OK, "alice"), await client.CallAsync(HttpMethod.Get, "/user/Cookies"));
        Assert.Equal((HttpStatusCode.OK, "(anonymous)"), await client.CallAsync(HttpMethod.Get, "/user/Other"));
        using var signOut = await client.SendAsync(HttpMethod.Post, "/logout/Cookies");
        Assert.Contains("expires=Thu, 01 Jan 1970", client.LastSetCookie("tessera"), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(await app.Services.GetRequiredService<SessionManager>().Subjects.ListAsync("alice"));
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    // Two cookie schemes, "Cookies" (the default) and "Other", with sign-in, sign-out and "who am I" routes for each.
    private static async Task<WebApplication> StartAsync(Action<TesseraBuilder> store, Action<IServiceCollection> ticketStore)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        store(builder.Services.AddTessera(o => o.Keys.Add(Key)));
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie().AddCookie("Other");
        ticketStore(builder.Services);
        var app = builder.Build();
        app.UseTessera();
        app.UseAuthentication();
        app.MapPost("/login/{scheme}/{user}", async (HttpContext context, string scheme, string user) =>
        {
            await context.SignInAsync(scheme, new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user), new Claim(ClaimTypes.Name, user)], scheme)));
            return "signed in";
        });
        app.MapPost("/logout/{scheme}", async (HttpContext context, string scheme) =>
        {
            await context.SignOutAsync(scheme);
            return "signed out";
        });
        app.MapGet("/user/{scheme}", async (HttpContext context, string scheme) =>
            (await context.AuthenticateAsync(scheme)).Principal?.Identity?.Name ?? "(anonymous)");
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return app;
    }
}
