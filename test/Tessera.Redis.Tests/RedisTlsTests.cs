using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// The TLS-only node: it has no plain port, its password only ever travels inside TLS, and a store reaches it only when
/// it trusts the CA that issued the server's certificate.
/// </summary>
[Collection(RedisTopologyCollections.Tls)]
public sealed class RedisTlsTests
{
    [Fact]
    public async Task TheTlsNodeListensOnlyForTlsAndRequiresAPassword()
    {
        var topology = await RedisTopology.SharedAsync(RedisTopologyKind.Tls);
        var options = topology.Options();
        var endpoint = Assert.IsType<IPEndPoint>(options.EndPoints.Single(), exactMatch: false);
        var server = (await topology.ConnectionAsync()).GetServer(endpoint);

        // The server's own settings: no plain port, TLS on the port the tests use, a password.
        Assert.Equal("0", Setting(await server.ConfigGetAsync("port"), "port"));
        Assert.Equal(endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), Setting(await server.ConfigGetAsync("tls-port"), "tls-port"));
        Assert.NotEqual("", Setting(await server.ConfigGetAsync("requirepass"), "requirepass"));

        // A command in plain text to that port gets no Redis reply: the server reads it as a broken TLS handshake.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(endpoint.Address, endpoint.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var reply = new byte[64];
            int read;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                read = await stream.ReadAsync(reply, timeout.Token);
            }
            catch (IOException)
            {
                read = 0; // reset by the server
            }
            Assert.DoesNotContain("PONG", Encoding.ASCII.GetString(reply, 0, read), StringComparison.Ordinal);
        }

        // StackExchange.Redis without ssl cannot connect, and with TLS but no password is refused (NOAUTH).
        var plain = topology.Options();
        plain.Ssl = false;
        plain.ConnectTimeout = 2000;
        await Assert.ThrowsAsync<RedisConnectionException>(() => RedisTopology.ConnectAsync(plain));
        var noPassword = topology.Options();
        noPassword.Password = null;
        var refused = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisTopology.ConnectAsync(noPassword));
        Assert.Contains("NOAUTH", Describe(refused), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoreThatTrustsTheRunsCaWorksAndItsPasswordNeverCrossesTheWireInClear()
    {
        var topology = await RedisTopology.SharedAsync(RedisTopologyKind.Tls);
        var options = topology.Options();
        var endpoint = Assert.IsType<IPEndPoint>(options.EndPoints.Single(), exactMatch: false);
        // Every byte the store sends passes through a relay that keeps a copy.
        await using var relay = await RecordingRelay.StartAsync(endpoint);
        options.EndPoints.Clear();
        options.EndPoints.Add(relay.EndPoint);
        var clock = new FakeTimeProvider(TestClock.Start);
        var prefix = "tessera-test-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var store = new RedisSessionStore(new RedisSessionStoreOptions { KeyPrefix = prefix, Configuration = options }, clock))
            {
                var record = NewRecord(clock);
                Assert.True(await store.CreateAsync(record, TestContext.Current.CancellationToken));
                var loaded = await ((IRoutedSessionStore)store).LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id), TestContext.Current.CancellationToken);
                Assert.Equal(record.Id, loaded?.Id);
            }

            var sent = relay.SentToServer();
            Assert.NotEmpty(sent);
            Assert.Equal(0x16, sent[0]); // a TLS handshake record, not a RESP command
            Assert.Equal(-1, sent.AsSpan().IndexOf(Encoding.UTF8.GetBytes(options.Password!)));
            Assert.Equal(-1, sent.AsSpan().IndexOf("AUTH"u8));
        }
        finally
        {
            await topology.DeleteKeysAsync(prefix);
        }
    }

    [Fact]
    public async Task AStoreThatDoesNotTrustTheRunsCaFailsWithACertificateError()
    {
        var topology = await RedisTopology.SharedAsync(RedisTopologyKind.Tls);
        var clock = new FakeTimeProvider(TestClock.Start);
        // The configuration string alone, as an app would be given it: the system's trust store has never seen the run's CA.
        var options = new RedisSessionStoreOptions { KeyPrefix = "tessera-test-" + Guid.NewGuid().ToString("N"), ConnectionString = topology.ConfigurationString };

        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var store = new RedisSessionStore(options, clock);
            await store.CreateAsync(NewRecord(clock), TestContext.Current.CancellationToken);
        });

        var text = Describe(failure);
        Assert.Contains("certificate", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(topology.Options().Password!, text, StringComparison.Ordinal);
    }

    internal static SessionRecord NewRecord(TimeProvider clock, string? subject = null) => new()
    {
        Id = Guid.NewGuid().ToString("D"),
        CredentialHash = SHA256.HashData(RandomNumberGenerator.GetBytes(32)),
        Subject = subject,
        CreatedAt = clock.GetUtcNow(),
        LastSeenAt = clock.GetUtcNow(),
        IdleExpiresAt = clock.GetUtcNow().AddHours(1),
        AbsoluteExpiresAt = clock.GetUtcNow().AddHours(8),
    };

    /// <summary>An exception and its inner ones, type and message, one per line.</summary>
    internal static string Describe(Exception exception)
    {
        var text = new StringBuilder();
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            text.Append(e.GetType().Name).Append(": ").AppendLine(e.Message);
        }
        return text.ToString();
    }

    private static string Setting(KeyValuePair<string, string>[] settings, string name) =>
        Assert.Single(settings, s => s.Key == name).Value;

    /// <summary>
    /// A loopback TCP relay to one server that keeps a copy of every byte the clients sent: the wire as an eavesdropper
    /// on the network between app and Redis would see it.
    /// </summary>
    private sealed class RecordingRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly IPEndPoint _target;
        private readonly MemoryStream _sent = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _pumps = [];
        private Task _accepting = Task.CompletedTask;

        private RecordingRelay(IPEndPoint target) => _target = target;

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public static Task<RecordingRelay> StartAsync(IPEndPoint target)
        {
            var relay = new RecordingRelay(target);
            relay._listener.Start();
            relay._accepting = relay.AcceptAsync();
            return Task.FromResult(relay);
        }

        public byte[] SentToServer()
        {
            lock (_sent)
            {
                return _sent.ToArray();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _accepting;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            Task[] pumps;
            lock (_pumps)
            {
                pumps = [.. _pumps];
            }
            await Task.WhenAll(pumps);
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_pumps)
                {
                    _pumps.Add(RelayAsync(client));
                }
            }
        }

        private async Task RelayAsync(TcpClient client)
        {
            using (client)
            using (var server = new TcpClient())
            {
                try
                {
                    await server.ConnectAsync(_target, _stop.Token);
                    using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    await Task.WhenAny(
                        PumpAsync(client.GetStream(), server.GetStream(), record: true, done.Token),
                        PumpAsync(server.GetStream(), client.GetStream(), record: false, done.Token));
                    await done.CancelAsync();
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
                {
                }
            }
        }

        private async Task PumpAsync(NetworkStream from, NetworkStream to, bool record, CancellationToken cancellationToken)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    if (record)
                    {
                        lock (_sent)
                        {
                            _sent.Write(buffer, 0, read);
                        }
                    }
                    await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
