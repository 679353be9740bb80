using Microsoft.Extensions.Time.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>What a session created over HTTP records, under each metadata policy, for cookie and token sessions.</summary>
public sealed class MetadataRecordingTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _store;

    public MetadataRecordingTests() => _store = new InMemorySessionStore(_clock);

    [Theory]
    [InlineData(true, IpAddressRecording.Full, "metadata-tests/1.0", "127.0.0.1")]
    [InlineData(true, IpAddressRecording.Truncated, "metadata-tests/1.0", "127.0.0.0")]
    [InlineData(false, IpAddressRecording.Off, null, null)]
    public async Task ACookieSessionRecordsWhatThePolicyAllows(bool recordUserAgent, IpAddressRecording ip, string? userAgent, string? address)
    {
        await using var server = await StartAsync(o =>
        {
            o.Metadata.RecordUserAgent = recordUserAgent;
            o.Metadata.IpAddress = ip;
        });
        using var client = NewHttpClient(server);

        using var response = await client.PostAsync("/signin/alice", null);
        response.EnsureSuccessStatusCode();

        var session = Assert.Single(await server.Manager.Subjects.ListAsync("alice"));
        Assert.Equal(userAgent, session.UserAgent);
        Assert.Equal(address, session.IpAddress);
    }

    [Theory]
    [InlineData(IpAddressRecording.Full, "127.0.0.1")]
    [InlineData(IpAddressRecording.Truncated, "127.0.0.0")]
    [InlineData(IpAddressRecording.Off, null)]
    public async Task ATokenSessionCreatedWithTheCaptureHelperFollowsTheSamePolicy(IpAddressRecording ip, string? address)
    {
        await using var server = await StartAsync(o => o.Metadata.IpAddress = ip, app =>
            app.MapPost("/token-login", async (HttpContext context, SessionManager manager) =>
                (await manager.Tokens.CreateAsync("alice", metadata: context.CaptureSessionMetadata(label: "cli"))).AccessToken).DisableSession());
        using var client = NewHttpClient(server);

        using var response = await client.PostAsync("/token-login", null);
        response.EnsureSuccessStatusCode();

        var session = Assert.Single(await server.Manager.Subjects.ListAsync("alice"));
        Assert.Equal(address, session.IpAddress);
        Assert.Equal("metadata-tests/1.0", session.UserAgent);
        Assert.Equal("cli", session.Label);
    }

    [Fact]
    public async Task ThePolicyIsBoundFromTheTesseraMetadataSection()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tessera:Keys:0"] = SigningKeyRing.GenerateBase64Key(),
            ["Tessera:Metadata:RecordUserAgent"] = "false",
            ["Tessera:Metadata:IpAddress"] = "Truncated",
        });
        builder.Services.AddTessera();
        await using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<TesseraOptions>>().Value;

        Assert.False(options.Metadata.RecordUserAgent);
        Assert.Equal(IpAddressRecording.Truncated, options.Metadata.IpAddress);
    }

    [Fact]
    public async Task AnUnknownAddressModeInConfigurationStopsStartUp()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tessera:Keys:0"] = SigningKeyRing.GenerateBase64Key(),
            ["Tessera:Metadata:IpAddress"] = "9",
        });
        builder.Services.AddTessera();
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("Tessera:Metadata:IpAddress", error.Message, StringComparison.Ordinal);
    }

    private Task<TesseraTestServer> StartAsync(Action<TesseraOptions> configure, Action<WebApplication>? routes = null) =>
        TesseraTestServer.StartAsync(_store, _clock, [SigningKeyRing.GenerateBase64Key()], configure: configure, mapExtraRoutes: routes);

    private static HttpClient NewHttpClient(TesseraTestServer server)
    {
        var client = new HttpClient { BaseAddress = server.Address };
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", "metadata-tests/1.0");
        return client;
    }
}
