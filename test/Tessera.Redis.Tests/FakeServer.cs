using System.Net;
using System.Net.Sockets;

namespace Tessera.Redis.Tests;

/// <summary>
/// An in-process TCP server for fault injection only: it accepts connections, reads whatever the client sends, and
/// answers each read with <see cref="Reply"/> (nothing when null, i.e. a server that never replies).
/// </summary>
public sealed class FakeServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly Task _accepting;
    private int _accepted;

    public FakeServer(byte[]? reply = null)
    {
        Reply = reply;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public byte[]? Reply { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                lock (_clients)
                {
                    _clients.Add(client);
                }

                _ = ServeAsync(client);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var buffer = new byte[4096];
        try
        {
            var stream = client.GetStream();
            while (await stream.ReadAsync(buffer, _stop.Token) > 0)
            {
                if (Reply is not null)
                {
                    await stream.WriteAsync(Reply, _stop.Token);
                }
            }
        }
        catch (Exception)
        {
            // The client went away or the server is stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }
}
