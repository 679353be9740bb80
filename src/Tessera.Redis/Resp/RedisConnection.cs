using System.Buffers;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tessera.Redis.Resp;

/// <summary>
/// One multiplexed, pipelined connection to Redis, safe for any number of concurrent callers. Commands go into a queue;
/// a single writer sends them in batches and a single reader matches replies to commands in order. When the socket
/// breaks, commands awaiting a reply fail with <see cref="RedisConnectionException"/>; the next command reconnects with
/// exponential backoff and re-applies <c>AUTH</c> and <c>SELECT</c>. Commands that change the connection's state for every caller
/// (<c>AUTH</c>, <c>SELECT</c>, <c>HELLO</c>, <c>RESET</c>, <c>QUIT</c>, <c>MONITOR</c>, the <c>SUBSCRIBE</c> family) are refused: use
/// <see cref="RedisOptions"/> instead; Pub/Sub is not supported. Blocking commands (<c>BLPOP</c> and the like) hold
/// up every caller behind them, and <c>WATCH</c> is not isolated between callers: use a Lua script for read-modify-write.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private const int WriteBufferSize = 64 * 1024;
    private const int MaxWriteChunk = 256;

    private static readonly byte[] Multi = "*1\r\n$5\r\nMULTI\r\n"u8.ToArray();
    private static readonly byte[] Exec = "*1\r\n$4\r\nEXEC\r\n"u8.ToArray();

    private readonly RedisOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _queueLock = new();
    private readonly Queue<PendingRequest> _queue = new();
    private readonly List<PendingRequest> _chunk = new(MaxWriteChunk);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _disposing = new();
    private readonly byte[] _writeBuffer = new byte[WriteBufferSize];
    private readonly ITimer? _sweeper;
    private readonly Task _writeLoop;
    private RedisTransport? _transport;
    private Exception? _lastConnectError;
    private bool _closed;
    private long _submitted;

    private RedisConnection(RedisOptions options, RedisTransport transport, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _time = options.TimeProvider;
        StartTransport(transport);
        if (options.CommandTimeout != Timeout.InfiniteTimeSpan)
        {
            // One coarse timer for all commands instead of one per command; timeouts fire up to a tenth late.
            var period = TimeSpan.FromTicks(Math.Clamp(options.CommandTimeout.Ticks / 10, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
            _sweeper = _time.CreateTimer(static state => ((RedisConnection)state!).Sweep(), this, period, period);
        }

        _writeLoop = Task.Run(WriteLoopAsync);
    }

    /// <summary>The options this connection was opened with (a private copy).</summary>
    internal RedisOptions Options => _options;

    /// <summary>The server's <c>host:port</c>.</summary>
    public string Endpoint => _options.Endpoint;

    /// <summary>How many requests (a command, a batch or a transaction: one round trip each) callers have submitted; for tests.</summary>
    internal long SubmittedRequests => Interlocked.Read(ref _submitted);

    /// <summary>True while a connection is open (it may still break at any moment).</summary>
    public bool IsConnected => Volatile.Read(ref _transport) is { IsBroken: false };

    /// <summary>
    /// Connects, authenticates and selects the database: one attempt within <see cref="RedisOptions.ConnectTimeout"/>.
    /// Later reconnections retry with backoff by themselves.
    /// </summary>
    /// <param name="options">Where to connect; copied, so later changes do not affect the connection.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="RedisConnectionException">The server is unreachable, too slow, or refused AUTH or SELECT (the server's message is included, the password never).</exception>
    public static Task<RedisConnection> ConnectAsync(RedisOptions options, CancellationToken cancellationToken = default)
        => ConnectAsync(options, null, cancellationToken);

    /// <summary>Connects like <see cref="ConnectAsync(RedisOptions, CancellationToken)"/>, logging connection loss and recovery to <paramref name="logger"/>.</summary>
    /// <param name="options">Where to connect; copied, so later changes do not affect the connection.</param>
    /// <param name="logger">Where to log; null logs nothing.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="RedisConnectionException">The server is unreachable, too slow, or refused AUTH or SELECT.</exception>
    public static async Task<RedisConnection> ConnectAsync(RedisOptions options, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = options.Clone();
        options.Validate();
        var transport = await RedisTransport.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        return new RedisConnection(options, transport, logger ?? NullLogger.Instance);
    }

    /// <summary>
    /// Sends one command and returns its reply. The arguments are encoded before this method returns. A command that
    /// gets no reply within <see cref="RedisOptions.CommandTimeout"/> fails with <see cref="TimeoutException"/> and the
    /// connection is reset. Cancelling stops a command that has not been sent; one already sent still has its reply read
    /// and dropped, so replies stay in order.
    /// </summary>
    /// <param name="command">The command name, for example <c>GET</c>.</param>
    /// <param name="args">The arguments (strings as UTF-8, bytes, integers).</param>
    /// <param name="cancellationToken">Cancels waiting for the reply.</param>
    /// <returns>The reply; never an error value.</returns>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">The connection broke before the reply, or could not be re-established in time.</exception>
    /// <exception cref="TimeoutException">No reply within the command timeout.</exception>
    /// <exception cref="ArgumentException">The command name is empty or an argument is null.</exception>
    /// <exception cref="NotSupportedException">The command would change the shared connection's state (<c>SELECT</c>, <c>SUBSCRIBE</c>, ...).</exception>
    public ValueTask<RedisValue> ExecuteAsync(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed), this);
        RespWriter.ThrowIfConnectionStateCommand(command);
        var buffer = RespWriter.Encode(command, args, out var length);
        if (cancellationToken.IsCancellationRequested)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.FromCanceled<RedisValue>(cancellationToken);
        }

        var request = new PendingCommand(buffer, length, _time.GetTimestamp());
        Submit(request, cancellationToken);
        return new ValueTask<RedisValue>(request.Task);
    }

    /// <summary>Sends one command without a cancellation token; see <see cref="ExecuteAsync(string, ReadOnlySpan{RedisArg}, CancellationToken)"/>.</summary>
    /// <param name="command">The command name, for example <c>GET</c>.</param>
    /// <param name="args">The arguments (strings as UTF-8, bytes, integers).</param>
    /// <returns>The reply; never an error value.</returns>
    public ValueTask<RedisValue> ExecuteAsync(string command, params ReadOnlySpan<RedisArg> args)
        => ExecuteAsync(command, args, CancellationToken.None);

    /// <summary>
    /// Sends the batch's commands back to back (pipelined, not atomic) and returns every reply in order. An error reply
    /// does not throw: it is returned as a value with <see cref="RedisValue.IsError"/> set (see <see cref="RedisValue.ThrowIfError"/>).
    /// An empty batch returns an empty list without a round trip.
    /// </summary>
    /// <param name="batch">The commands.</param>
    /// <param name="cancellationToken">Cancels waiting for the replies.</param>
    /// <returns>One reply per command.</returns>
    /// <exception cref="RedisConnectionException">The connection broke before all replies arrived.</exception>
    /// <exception cref="TimeoutException">No reply within the command timeout.</exception>
    public async ValueTask<IReadOnlyList<RedisValue>> ExecuteBatchAsync(RedisBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return [];
        }

        var result = await SubmitBatch(batch, transaction: false, cancellationToken).ConfigureAwait(false);
        return result!;
    }

    /// <summary>
    /// Runs the batch atomically as <c>MULTI</c>, the commands, <c>EXEC</c>, written back to back so no other caller's
    /// command lands inside the transaction. Returns EXEC's replies; a command that failed at run time (such as
    /// <c>WRONGTYPE</c>) is an error value in the list, as Redis does not roll back. An empty batch returns an empty
    /// list without a round trip.
    /// </summary>
    /// <param name="batch">The commands.</param>
    /// <param name="cancellationToken">Cancels waiting for the reply.</param>
    /// <returns>One reply per command, or null if the transaction was aborted by a <c>WATCH</c>.</returns>
    /// <exception cref="RedisServerException">The server refused a command while queueing it, so nothing ran (<c>EXECABORT</c>; the refused command's error is the inner exception).</exception>
    /// <exception cref="RedisConnectionException">The connection broke before the reply arrived (the transaction may or may not have run).</exception>
    /// <exception cref="TimeoutException">No reply within the command timeout.</exception>
    public ValueTask<IReadOnlyList<RedisValue>?> ExecuteTransactionAsync(RedisBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Count == 0
            ? ValueTask.FromResult<IReadOnlyList<RedisValue>?>([])
            : new ValueTask<IReadOnlyList<RedisValue>?>(SubmitBatch(batch, transaction: true, cancellationToken));
    }

    /// <summary>
    /// Runs a Lua script by its SHA-1 (<c>EVALSHA</c>), falling back to <c>EVAL</c> with the source when the server
    /// does not have it cached (<c>NOSCRIPT</c>), which also caches it for next time.
    /// </summary>
    /// <param name="script">The script.</param>
    /// <param name="keys">The keys (<c>KEYS</c> in Lua); null for none.</param>
    /// <param name="args">The other arguments (<c>ARGV</c> in Lua); null for none.</param>
    /// <param name="cancellationToken">Cancels waiting for the reply.</param>
    /// <returns>The script's reply.</returns>
    /// <exception cref="RedisServerException">The script failed or returned an error.</exception>
    public async ValueTask<RedisValue> EvaluateAsync(
        RedisScript script, IReadOnlyList<RedisArg>? keys = null, IReadOnlyList<RedisArg>? args = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        try
        {
            return await EvaluateCore("EVALSHA", script.Sha1, keys, args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.ErrorCode == "NOSCRIPT")
        {
            return await EvaluateCore("EVAL", script.Text, keys, args, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Caches a script on the server with <c>SCRIPT LOAD</c>, so the first <see cref="EvaluateAsync"/> needs no fallback.</summary>
    /// <param name="script">The script.</param>
    /// <param name="cancellationToken">Cancels waiting for the reply.</param>
    /// <returns>A task that completes when the server has compiled and cached the script.</returns>
    /// <exception cref="RedisServerException">The script does not compile.</exception>
    public async ValueTask LoadScriptAsync(RedisScript script, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        var sha = await ExecuteAsync("SCRIPT", ["LOAD", script.Text], cancellationToken).ConfigureAwait(false);
        if (!string.Equals(sha.AsString(), script.Sha1, StringComparison.OrdinalIgnoreCase))
        {
            throw new RedisConnectionException($"Redis at {Endpoint} answered SCRIPT LOAD with an unexpected SHA-1.");
        }
    }

    /// <summary>
    /// Closes the connection. Commands not yet answered fail with <see cref="RedisConnectionException"/>; later calls
    /// throw <see cref="ObjectDisposedException"/>. Safe to call more than once.
    /// </summary>
    /// <returns>A task that completes when the writer has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        lock (_queueLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        _sweeper?.Dispose();
        _wake.Writer.TryComplete();
        await _writeLoop.ConfigureAwait(false);

        // The writer has stopped: whatever it had taken but not sent, and whatever is still queued, will never be sent.
        PendingRequest[] queued;
        lock (_queueLock)
        {
            queued = [.. _chunk, .. _queue];
            _chunk.Clear();
            _queue.Clear();
        }

        Volatile.Read(ref _transport)?.Break(new RedisConnectionException("The Redis connection was disposed."));
        foreach (var request in queued)
        {
            if (request.TryAbandon())
            {
                request.Fail(new RedisConnectionException("The Redis connection was disposed before the command was sent."));
            }
        }

        _disposing.Dispose();
    }

    private ValueTask<RedisValue> EvaluateCore(
        string command, string scriptOrSha, IReadOnlyList<RedisArg>? keys, IReadOnlyList<RedisArg>? args, CancellationToken cancellationToken)
    {
        var keyCount = keys?.Count ?? 0;
        var argCount = args?.Count ?? 0;
        var all = ArrayPool<RedisArg>.Shared.Rent(2 + keyCount + argCount);
        try
        {
            all[0] = scriptOrSha;
            all[1] = keyCount;
            for (var i = 0; i < keyCount; i++)
            {
                all[2 + i] = keys![i];
            }

            for (var i = 0; i < argCount; i++)
            {
                all[2 + keyCount + i] = args![i];
            }

            return ExecuteAsync(command, all.AsSpan(0, 2 + keyCount + argCount), cancellationToken);
        }
        finally
        {
            ArrayPool<RedisArg>.Shared.Return(all, clearArray: true);
        }
    }

    private Task<IReadOnlyList<RedisValue>?> SubmitBatch(RedisBatch batch, bool transaction, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed), this);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<IReadOnlyList<RedisValue>?>(cancellationToken);
        }

        var bytes = batch.Bytes;
        var length = bytes.Length + (transaction ? Multi.Length + Exec.Length : 0);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var span = buffer.AsSpan();
        if (transaction)
        {
            Multi.CopyTo(span);
            span = span[Multi.Length..];
        }

        bytes.CopyTo(span);
        if (transaction)
        {
            Exec.CopyTo(span[bytes.Length..]);
        }

        var request = new PendingBatch(buffer, length, batch.Count + (transaction ? 2 : 0), transaction, _time.GetTimestamp());
        Submit(request, cancellationToken);
        return request.Task;
    }

    private void Submit(PendingRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _submitted);
        if (cancellationToken.CanBeCanceled)
        {
            request.RegisterCancellation(cancellationToken);
        }

        lock (_queueLock)
        {
            if (_closed)
            {
                request.TryAbandon();
                request.Fail(new ObjectDisposedException(nameof(RedisConnection)));
                return;
            }

            _queue.Enqueue(request);
        }

        _wake.Writer.TryWrite(true);
    }

    private void StartTransport(RedisTransport transport)
    {
        Volatile.Write(ref _transport, transport);
        _ = Task.Run(async () =>
        {
            await transport.ReadLoopAsync().ConfigureAwait(false);
            if (!_disposing.IsCancellationRequested)
            {
                Log.ConnectionLost(_logger, Endpoint, transport.CreateBrokenException());
            }
        });
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await WriteLoopCoreAsync().ConfigureAwait(false);
        }
        catch (Exception) when (_disposing.IsCancellationRequested)
        {
            // Disposal stops the writer wherever it is; DisposeAsync fails what is left.
        }
    }

    private async Task WriteLoopCoreAsync()
    {
        var token = _disposing.Token;
        var reader = _wake.Reader;
        while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
        {
            reader.TryRead(out _);
            while (true)
            {
                lock (_queueLock)
                {
                    if (_queue.Count == 0)
                    {
                        break;
                    }
                }

                var transport = Volatile.Read(ref _transport);
                if (transport is null || transport.IsBroken)
                {
                    transport = await ReconnectAsync(token).ConfigureAwait(false);
                    if (transport is null)
                    {
                        break; // every queued command was abandoned meanwhile: nothing to connect for
                    }
                }

                await WriteQueuedAsync(transport, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes everything queued onto <paramref name="transport"/>, flushing when the queue runs dry or the buffer fills.</summary>
    private async Task WriteQueuedAsync(RedisTransport transport, CancellationToken token)
    {
        var used = 0;
        var index = 0;
        try
        {
            while (true)
            {
                _chunk.Clear();
                index = 0;
                lock (_queueLock)
                {
                    while (_chunk.Count < MaxWriteChunk && _queue.TryDequeue(out var next))
                    {
                        _chunk.Add(next);
                    }
                }

                if (_chunk.Count == 0)
                {
                    break;
                }

                for (; index < _chunk.Count; index++)
                {
                    var request = _chunk[index];
                    if (transport.IsBroken)
                    {
                        Requeue(index);
                        return;
                    }

                    if (!request.TryMarkWritten())
                    {
                        continue; // cancelled or timed out before it was sent
                    }

                    // Register the replies before the bytes leave, so the reader always finds who a reply is for.
                    if (!transport.TryAddInFlight(request))
                    {
                        request.ReleaseBuffer();
                        request.Fail(transport.CreateBrokenException());
                        continue;
                    }

                    var bytes = request.Bytes;
                    if (bytes.Length > _writeBuffer.Length - used)
                    {
                        await transport.Stream.WriteAsync(_writeBuffer.AsMemory(0, used), token).ConfigureAwait(false);
                        used = 0;
                    }

                    if (bytes.Length > _writeBuffer.Length)
                    {
                        await WriteLargeAsync(transport.Stream, request, token).ConfigureAwait(false);
                    }
                    else
                    {
                        bytes.Span.CopyTo(_writeBuffer.AsSpan(used));
                        used += bytes.Length;
                        request.ReleaseBuffer();
                    }
                }

                bool more;
                lock (_queueLock)
                {
                    more = _queue.Count > 0;
                }

                // Flush once the queue has been drained (a short chunk or nothing left); under load the buffer fills first.
                if ((!more || _chunk.Count < MaxWriteChunk) && used > 0)
                {
                    await transport.Stream.WriteAsync(_writeBuffer.AsMemory(0, used), token).ConfigureAwait(false);
                    used = 0;
                }
            }
        }
        catch (Exception ex) when (!token.IsCancellationRequested)
        {
            // Commands already registered fail with the transport; those not reached yet go to the next connection.
            transport.Break(ex);
            Requeue(index + 1);
        }
    }

    private static async Task WriteLargeAsync(Stream stream, PendingRequest request, CancellationToken token)
    {
        try
        {
            await stream.WriteAsync(request.Bytes, token).ConfigureAwait(false);
        }
        finally
        {
            request.ReleaseBuffer();
        }
    }

    /// <summary>Puts the unsent tail of the current chunk back at the front of the queue, keeping the order.</summary>
    private void Requeue(int from)
    {
        if (from >= _chunk.Count)
        {
            return;
        }

        lock (_queueLock)
        {
            var rest = _queue.ToArray();
            _queue.Clear();
            for (var i = from; i < _chunk.Count; i++)
            {
                _queue.Enqueue(_chunk[i]);
            }

            foreach (var request in rest)
            {
                _queue.Enqueue(request);
            }
        }

        _chunk.Clear();
        _wake.Writer.TryWrite(true);
    }

    /// <summary>Connects again, doubling the delay after each failure up to the cap, until it works or nothing is waiting.</summary>
    private async Task<RedisTransport?> ReconnectAsync(CancellationToken token)
    {
        var delay = _options.ReconnectMinDelay;
        for (var attempt = 1; ; attempt++)
        {
            lock (_queueLock)
            {
                while (_queue.TryPeek(out var head) && head.IsAbandoned)
                {
                    _queue.Dequeue();
                }

                if (_queue.Count == 0)
                {
                    return null;
                }
            }

            try
            {
                var transport = await RedisTransport.ConnectAsync(_options, token).ConfigureAwait(false);
                Volatile.Write(ref _lastConnectError, null);
                StartTransport(transport);
                Log.Reconnected(_logger, Endpoint, attempt);
                return transport;
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                Volatile.Write(ref _lastConnectError, ex);
                // Up to 20% jitter so that many app instances do not reconnect in lockstep after a server restart.
                var wait = delay + TimeSpan.FromTicks((long)(delay.Ticks * 0.2 * Random.Shared.NextDouble()));
                Log.ReconnectFailed(_logger, Endpoint, attempt, (long)wait.TotalMilliseconds, ex);
                await Task.Delay(wait, _time, token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
        }
    }

    /// <summary>Fails commands older than the command timeout; a timed-out command on the wire resets the connection.</summary>
    private void Sweep()
    {
        try
        {
            var timeout = _options.CommandTimeout;
            var now = _time.GetTimestamp();
            List<PendingRequest>? expired = null;
            lock (_queueLock)
            {
                foreach (var request in _queue)
                {
                    if (!request.IsAbandoned && _time.GetElapsedTime(request.StartTimestamp, now) >= timeout)
                    {
                        (expired ??= []).Add(request);
                    }
                }
            }

            if (expired is not null)
            {
                var lastError = Volatile.Read(ref _lastConnectError);
                foreach (var request in expired)
                {
                    if (request.TryAbandon())
                    {
                        request.Fail(lastError is null
                            ? new TimeoutException($"The Redis command was not sent to {Endpoint} within {Milliseconds(timeout)} ms.")
                            : new RedisConnectionException(
                                $"The Redis command could not be sent within {Milliseconds(timeout)} ms: no connection to {Endpoint} ({lastError.Message}).", lastError));
                    }
                }
            }

            var transport = Volatile.Read(ref _transport);
            if (transport is not null && transport.TryPeekOldest(out var oldest)
                && _time.GetElapsedTime(oldest!.StartTimestamp, now) >= timeout)
            {
                // Replies are matched by order, so once one is missing the connection cannot be trusted: fail the
                // late command with a timeout, everything else behind it with a connection error, and start afresh.
                oldest.Fail(new TimeoutException($"Redis at {Endpoint} did not reply within {Milliseconds(timeout)} ms."));
                if (transport.Break(new TimeoutException($"A command got no reply from {Endpoint} within {Milliseconds(timeout)} ms, so the connection was reset.")))
                {
                    Log.CommandTimedOut(_logger, (long)timeout.TotalMilliseconds, Endpoint);
                }

                _wake.Writer.TryWrite(true);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed while sweeping.
        }
    }

    private static string Milliseconds(TimeSpan value) => ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
}
