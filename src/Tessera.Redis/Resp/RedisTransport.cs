using System.Buffers;
using System.Globalization;
using System.Net.Sockets;

namespace Tessera.Redis.Resp;

/// <summary>
/// One TCP connection: the socket, the queue of requests awaiting replies (in the order they were written) and the
/// single reader that matches replies to them. Once broken it stays broken; the connection makes a new one.
/// </summary>
internal sealed class RedisTransport
{
    private const int InitialReadBuffer = 16 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Queue<PendingRequest> _inFlight = new();
    private readonly Lock _inFlightLock = new();
    private byte[] _readBuffer = ArrayPool<byte>.Shared.Rent(InitialReadBuffer);
    private int _readStart;
    private int _readEnd;
    private bool _broken;
    private Exception? _breakReason;

    private RedisTransport(Socket socket, string endpoint)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Endpoint = endpoint;
    }

    public string Endpoint { get; }

    public Stream Stream => _stream;

    public bool IsBroken
    {
        get
        {
            lock (_inFlightLock)
            {
                return _broken;
            }
        }
    }

    /// <summary>Opens the socket and applies AUTH and SELECT, all within the connect timeout.</summary>
    public static async Task<RedisTransport> ConnectAsync(RedisOptions options, CancellationToken cancellationToken)
    {
        var endpoint = options.Endpoint;
        using var timeout = options.ConnectTimeout == Timeout.InfiniteTimeSpan
            ? new CancellationTokenSource()
            : new CancellationTokenSource(options.ConnectTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        RedisTransport? transport = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, linked.Token).ConfigureAwait(false);
            transport = new RedisTransport(socket, endpoint);
            await transport.HandshakeAsync(options, linked.Token).ConfigureAwait(false);
            return transport;
        }
        catch (Exception ex)
        {
            if (transport is not null)
            {
                transport.Break(ex);
            }
            else
            {
                socket.Dispose();
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw ex switch
            {
                OperationCanceledException when timeout.IsCancellationRequested => new RedisConnectionException(
                    $"Connecting to Redis at {endpoint} timed out after {((long)options.ConnectTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} ms.",
                    new TimeoutException("The Redis connect timeout elapsed.")),
                RedisServerException server => new RedisConnectionException(
                    $"Redis at {endpoint} refused the connection set-up (AUTH or SELECT): {server.Message}", server),
                RedisConnectionException connection => connection,
                _ => new RedisConnectionException($"Could not connect to Redis at {endpoint}: {ex.Message}", ex),
            };
        }
    }

    private async Task HandshakeAsync(RedisOptions options, CancellationToken cancellationToken)
    {
        // AUTH and SELECT are written by hand here, before the reader starts, so no other command can run unauthenticated
        // or against the wrong database. No AUTH/SELECT is needed for the defaults, so then nothing is sent.
        var commands = new List<(string Command, RedisArg[] Args)>(2);
        if (options.Password is not null)
        {
            commands.Add(("AUTH", options.User is null ? [options.Password] : [options.User, options.Password]));
        }

        if (options.Database != 0)
        {
            commands.Add(("SELECT", [options.Database]));
        }

        if (commands.Count == 0)
        {
            return;
        }

        foreach (var (command, args) in commands)
        {
            var buffer = RespWriter.Encode(command, args, out var length);
            try
            {
                await _stream.WriteAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer, clearArray: true); // it held the password
            }
        }

        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        foreach (var _ in commands)
        {
            RedisValue reply;
            while (!TryReadReply(out reply))
            {
                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new RedisConnectionException($"Redis at {Endpoint} closed the connection during set-up.");
                }
            }

            reply.ThrowIfError();
        }
    }

    /// <summary>Adds a written request's replies to the FIFO; false if the transport broke (then nothing was added).</summary>
    public bool TryAddInFlight(PendingRequest request)
    {
        lock (_inFlightLock)
        {
            if (_broken)
            {
                return false;
            }

            for (var i = 0; i < request.ReplyCount; i++)
            {
                _inFlight.Enqueue(request);
            }

            return true;
        }
    }

    /// <summary>The submission time of the oldest request awaiting a reply, if any.</summary>
    public bool TryPeekOldest(out PendingRequest? oldest)
    {
        lock (_inFlightLock)
        {
            return _inFlight.TryPeek(out oldest);
        }
    }

    /// <summary>
    /// Marks the transport broken, closes the socket and fails every request awaiting a reply. Idempotent; returns true
    /// for the call that broke it.
    /// </summary>
    public bool Break(Exception reason)
    {
        PendingRequest[] orphans;
        bool first;
        lock (_inFlightLock)
        {
            first = !_broken;
            if (first)
            {
                _broken = true;
                _breakReason = reason;
            }

            orphans = _inFlight.Count == 0 ? [] : _inFlight.ToArray();
            _inFlight.Clear();
        }

        if (first)
        {
            _stream.Dispose();
        }

        PendingRequest? previous = null;
        foreach (var request in orphans)
        {
            if (!ReferenceEquals(request, previous))
            {
                request.Fail(CreateBrokenException());
                previous = request;
            }
        }

        return first;
    }

    /// <summary>The exception given to a request that was sent on this transport but will never get its reply.</summary>
    public RedisConnectionException CreateBrokenException()
    {
        var reason = _breakReason;
        return new RedisConnectionException(
            $"The connection to Redis at {Endpoint} was lost before the reply arrived{(reason is null ? "." : ": " + reason.Message)}", reason);
    }

    /// <summary>Reads replies and hands each to the oldest request until the connection ends; then breaks the transport.</summary>
    public async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                while (TryReadReply(out var reply))
                {
                    if (reply.Kind == RedisValueKind.Push)
                    {
                        continue; // out-of-band (RESP3 only); never an answer to a command
                    }

                    PendingRequest? request;
                    lock (_inFlightLock)
                    {
                        _inFlight.TryDequeue(out request);
                    }

                    if (request is null)
                    {
                        throw new RedisProtocolException("The server sent a reply that no command was waiting for.");
                    }

                    request.OnReply(reply);
                }

                if (!await FillAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    Break(new RedisConnectionException($"Redis at {Endpoint} closed the connection."));
                    return;
                }
            }
        }
        catch (RedisProtocolException ex)
        {
            Break(new RedisConnectionException($"Redis at {Endpoint} sent an invalid reply ({ex.Message}); the connection was reset.", ex));
        }
        catch (Exception ex)
        {
            Break(ex);
        }
        finally
        {
            var buffer = _readBuffer;
            _readBuffer = [];
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// For a subscribed connection (no request queue): writes one command straight to the socket. Callers must not
    /// write concurrently.
    /// </summary>
    public async Task WriteCommandAsync(string command, RedisArg[] args, CancellationToken cancellationToken)
    {
        var buffer = RespWriter.Encode(command, args, out var length);
        try
        {
            await _stream.WriteAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// For a subscribed connection: hands every reply (pushed messages and command replies alike) to
    /// <paramref name="onReply"/> until the connection ends, then throws <see cref="RedisConnectionException"/>.
    /// </summary>
    public async Task ReadPushedAsync(Action<RedisValue> onReply, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                while (TryReadReply(out var reply))
                {
                    onReply(reply);
                }

                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new RedisConnectionException($"Redis at {Endpoint} closed the connection.");
                }
            }
        }
        finally
        {
            var buffer = _readBuffer;
            _readBuffer = [];
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool TryReadReply(out RedisValue reply)
    {
        var data = _readBuffer.AsSpan(_readStart, _readEnd - _readStart);
        if (data.IsEmpty || !RespParser.TryScan(data, out var length))
        {
            reply = default;
            return false;
        }

        reply = RespParser.Parse(data[..length]);
        _readStart += length;
        if (_readStart == _readEnd)
        {
            _readStart = _readEnd = 0;
        }

        return true;
    }

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_readEnd == _readBuffer.Length)
        {
            if (_readStart > 0)
            {
                _readBuffer.AsSpan(_readStart, _readEnd - _readStart).CopyTo(_readBuffer);
            }
            else
            {
                // A reply larger than the buffer (a big bulk string): grow, keeping what has arrived.
                var larger = ArrayPool<byte>.Shared.Rent(checked(_readBuffer.Length * 2));
                _readBuffer.AsSpan(0, _readEnd).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_readBuffer);
                _readBuffer = larger;
            }

            _readEnd -= _readStart;
            _readStart = 0;
        }

        var read = await _stream.ReadAsync(_readBuffer.AsMemory(_readEnd), cancellationToken).ConfigureAwait(false);
        _readEnd += read;
        return read > 0;
    }
}
