using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace Tessera.Demo.Tests;

/// <summary>
/// The demo limits, per client address, the routes that can create a session (Demo:SessionRateLimit): a client making
/// sessions too fast gets 429s with Retry-After and no session, while another address, and the client's own reads, go on.
/// </summary>
public sealed class DemoRateLimitTests
{
    private const int Limit = 20;

    [Fact]
    public async Task AClientThatCreatesSessionsTooFastGets429sAndOthersAreNotAffected()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: $"--Demo:SessionRateLimit={Limit}");
        using var flooder = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = server.BaseAddress };
        using var neighbour = FromAddress(server.BaseAddress, IPAddress.Parse("127.0.0.2"));

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 3 * Limit; i++)
        {
            var response = await flooder.PostAsJsonAsync("/cart", new { item = "apple" });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && refused is null)
            {
                refused = response;
            }
            else
            {
                response.Dispose();
            }
        }

        // A burst of the whole budget goes through; what the bucket refills in the few seconds the loop takes may too.
        Assert.True(statuses.Take(Limit).All(s => s == HttpStatusCode.OK), string.Join(",", statuses));
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.TooManyRequests), Limit, 2 * Limit);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));
        using (refused)
        {
            Assert.NotNull(refused);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.False(refused.Headers.Contains("Set-Cookie"));
        }
        // The other routes that make sessions share the budget, token sign-ins included.
        using (var login = await flooder.PostAsJsonAsync("/api/login", new { user = "mallory" }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, login.StatusCode);
        }
        // Reads are not limited, and another address has a budget of its own.
        using (var read = await flooder.GetAsync("/cart"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
        using var other = await neighbour.PostAsJsonAsync("/cart", new { item = "pear" });
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.True(other.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task TheLimitCanBeTurnedOffAndBadValuesAreRefusedAtStartUp()
    {
        await using (var server = await DemoServer.StartAsync("memory", extra: "--Demo:SessionRateLimit=0"))
        {
            using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = server.BaseAddress };
            for (var i = 0; i < 700; i++)
            {
                using var response = await client.PostAsJsonAsync("/counter/a", new { });
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Development", data.Path, "--Demo:SessionRateLimit=-5")));
        Assert.Contains("Demo:SessionRateLimit", failure.Message, StringComparison.Ordinal);
    }

    // A client whose connections come from another loopback address, so the limiter sees another client.
    private static HttpClient FromAddress(Uri baseAddress, IPAddress local) =>
        new(new SocketsHttpHandler
        {
            UseCookies = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = baseAddress };
}
