using Microsoft.Extensions.Time.Testing;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// What the commit gate holds back while a session has uncommitted changes reaches the client whole and in order,
/// however the handler writes it: through the body's <c>PipeWriter</c> in pieces that outgrow the gate's first buffer,
/// or through the body's stream, synchronously, where the server allows it.
/// </summary>
public sealed class CommitGateTests : IAsyncLifetime
{
    // Distinct bytes at every position, so a lost, repeated or reordered piece shows; and different for every request,
    // so bytes a pooled buffer kept from an earlier response cannot pass for this one's.
    private static string Body(int seed) =>
        string.Concat(Enumerable.Range(0, 5_000).Select(i => ((seed + (i * 7_919L)) % 1_000_000).ToString("D6", CultureInfo.InvariantCulture) + ";"));

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private TesseraTestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await TesseraTestServer.StartAsync(new InMemorySessionStore(_clock), _clock, [SigningKeyRing.GenerateBase64Key()], mapExtraRoutes: MapRoutes);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("/held/writer/1")]     // one byte per GetSpan, thirty thousand times
    [InlineData("/held/writer/1000")]  // pieces that cross the first buffer's end
    [InlineData("/held/writer/70000")] // one piece larger than the first buffer
    [InlineData("/held/stream")]
    public async Task AHeldBodyLargerThanOneBufferArrivesWholeAfterTheCommit(string route)
    {
        using var client = _server.CreateClient();
        var seed = Random.Shared.Next(1_000_000);

        using var response = await client.SendAsync(HttpMethod.Post, $"{route}?seed={seed}", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Body(seed), await response.Content.ReadAsStringAsync());
        Assert.NotNull(client.Cookie); // the session was created, so the cookie came before the held body
        Assert.Equal("yes", await client.GetStringAsync("/read/held"));
    }

    [Fact]
    public async Task ASynchronousWriteIsRefusedWhereTheServerRefusesOne()
    {
        using var client = _server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/held/stream-no-sync", new ByteArrayContent([]));

        Assert.Equal("refused", await response.Content.ReadAsStringAsync());
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapPost("/held/writer/{piece:int}", async (HttpContext context, int piece, int seed) =>
        {
            var session = await context.GetTesseraSessionAsync();
            session.Set("held", "yes");
            var bytes = Encoding.ASCII.GetBytes(Body(seed));
            var writer = context.Response.BodyWriter;
            for (var at = 0; at < bytes.Length; at += piece)
            {
                var length = Math.Min(piece, bytes.Length - at);
                bytes.AsSpan(at, length).CopyTo(writer.GetSpan(length));
                writer.Advance(length);
            }
            await writer.FlushAsync();
        });
        app.MapPost("/held/stream", async (HttpContext context, int seed) =>
        {
            var session = await context.GetTesseraSessionAsync();
            session.Set("held", "yes");
            context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
            var bytes = Encoding.ASCII.GetBytes(Body(seed));
            for (var at = 0; at < bytes.Length; at += 3_000)
            {
                context.Response.Body.Write(bytes, at, Math.Min(3_000, bytes.Length - at));
            }
        });
        app.MapPost("/held/stream-no-sync", async (HttpContext context) =>
        {
            var session = await context.GetTesseraSessionAsync();
            session.Set("held", "yes");
            try
            {
                context.Response.Body.Write("x"u8);
            }
            catch (InvalidOperationException)
            {
                await context.Response.WriteAsync("refused");
            }
        });
    }
}
