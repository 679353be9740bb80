using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.AspNetCore.Tests.Realtime;

/// <summary>
/// What the connection lifetime refuses at start-up: the encrypted cookie store, whose sessions the server cannot read
/// again, so the watcher would take every one for revoked. The behaviour on the server-side stores is
/// <see cref="Testing.ConnectionLifetimeConformanceTests{TKit}"/>.
/// </summary>
public sealed class ConnectionLifetimeSetupTests
{
    private static readonly string Key = SigningKeyRing.GenerateBase64Key();

    public static TheoryData<string> Registrations => ["hubs", "watcher"];

    [Theory]
    [MemberData(nameof(Registrations))]
    public async Task TheEncryptedCookieStoreFailsTheHostsStartWithAClearError(string registration)
    {
        await using var app = Build(tessera => tessera.UseCookieStore(), registration);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("encrypted cookie store (UseCookieStore())", error.Message, StringComparison.Ordinal);
        Assert.Contains("server-side store", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Registrations))]
    public async Task AServerSideStoreChosenAfterTheCookieStoreStarts(string registration)
    {
        // The refusal follows the store the app ends up with, not every call made on the way.
        await using var app = Build(tessera => tessera.UseCookieStore().UseMemoryStore(), registration);

        await app.StartAsync(TestContext.Current.CancellationToken);

        Assert.NotNull(app.Services.GetRequiredService<SessionEndWatcher>());
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private static WebApplication Build(Action<TesseraBuilder> store, string registration)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        store(builder.Services.AddTessera(o => o.Keys.Add(Key)));
        if (registration == "hubs")
        {
            builder.Services.AddSignalR().AddTesseraConnectionLifetime();
        }
        else
        {
            builder.Services.AddTesseraSessionEndWatcher();
        }
        var app = builder.Build();
        app.UseTessera();
        return app;
    }
}
