using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore.Tests.CookieStore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.Realtime;

/// <summary>Hubs over the encrypted cookie store: the session travels in the cookie, so hub methods may read it only.</summary>
public sealed class CookieStoreHubTests : HttpConformanceTestBase<CookieStoreKit>
{
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services); // the kit's: the HttpContext accessor the cookie store needs
        HubApp.ConfigureServices(services);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AHubMethodReadsACookieStoreSessionButAWriteIsRefusedWithAClearError(bool behindAWrapper)
    {
        // Behind a wrapper (here the suite's counting store) the hub cannot tell the store keeps the session in the
        // cookie; the cookie store itself refuses to write to a response that has started.
        var server = await StartTestServerAsync(behindAWrapper ? Store : Store.Inner, configure: null, mapExtraRoutes: HubApp.Map);
        using var client = server.CreateClient();
        await client.PostAsync("/set/color/blue");
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: HubSessionTests.CookieHeader(client));

        Assert.Equal("blue", await hub.InvokeAsync<string>("Read", "color", TestContext.Current.CancellationToken));
        // Past the touch interval a read still works: the touch it would make is skipped (no cookie can carry it).
        Clock.Advance(server.Manager.Options.TouchInterval + TimeSpan.FromSeconds(1));
        Assert.Equal("blue", await hub.InvokeAsync<string>("Read", "color", TestContext.Current.CancellationToken));
        var refused = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync("Write", "color", "red", TestContext.Current.CancellationToken));

        Assert.Contains("no HTTP response to carry a changed cookie", refused.Message, StringComparison.Ordinal);
        Assert.Equal("blue", await client.GetStringAsync("/read/color"));
    }
}
