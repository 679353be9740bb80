using System.Buffers;

namespace Tessera.Redis.Resp;

/// <summary>
/// One unit the writer sends contiguously: a command, or a batch or transaction of several. Its life is
/// Queued, then either Written (its replies will be consumed in order, even if the caller gave up) or Abandoned
/// (cancelled, timed out or failed before a byte was sent; the writer skips it). Exactly one of those transitions wins.
/// </summary>
internal abstract class PendingRequest
{
    private const int Queued = 0;
    private const int Written = 1;
    private const int Abandoned = 2;

    private byte[]? _buffer;
    private readonly bool _pooled;
    private int _state;
    private CancellationTokenRegistration _registration;

    protected PendingRequest(byte[] buffer, int length, bool pooled, int replyCount, long startTimestamp)
    {
        _buffer = buffer;
        _pooled = pooled;
        Length = length;
        ReplyCount = replyCount;
        StartTimestamp = startTimestamp;
    }

    /// <summary>How many replies the server sends for this request: one per command in it.</summary>
    public int ReplyCount { get; }

    /// <summary>When the caller submitted it; the command timeout counts from here.</summary>
    public long StartTimestamp { get; }

    /// <summary>The encoded length in bytes.</summary>
    public int Length { get; }

    public bool IsAbandoned => Volatile.Read(ref _state) == Abandoned;

    public abstract bool IsCompleted { get; }

    /// <summary>The encoded commands; only the writer reads them, and only after <see cref="TryMarkWritten"/> succeeded.</summary>
    public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, Length);

    /// <summary>Claims the request for writing; false if it was abandoned first.</summary>
    public bool TryMarkWritten() => Interlocked.CompareExchange(ref _state, Written, Queued) == Queued;

    /// <summary>Claims the request for abandonment; false if it was already written (its reply is then still awaited).</summary>
    public bool TryAbandon()
    {
        if (Interlocked.CompareExchange(ref _state, Abandoned, Queued) != Queued)
        {
            return false;
        }

        ReleaseBuffer();
        return true;
    }

    /// <summary>Returns the encoded bytes to the pool once the writer has copied or sent them.</summary>
    public void ReleaseBuffer()
    {
        var buffer = _buffer;
        _buffer = null;
        if (_pooled && buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        _registration = cancellationToken.UnsafeRegister(
            static (state, token) =>
            {
                var request = (PendingRequest)state!;
                // Abandon first so the writer never sends a command whose caller is gone; if it is already on the wire,
                // it stays in the in-flight queue and its reply is read and dropped, keeping the order of replies.
                request.TryAbandon();
                request.SetCanceled(token);
            },
            this);
        if (IsCompleted)
        {
            _registration.Unregister();
        }
    }

    /// <summary>Receives the next reply for this request (called by the single reader, in order).</summary>
    public abstract void OnReply(RedisValue value);

    /// <summary>Fails the request if it is not completed yet.</summary>
    public void Fail(Exception exception)
    {
        SetException(exception);
        _registration.Unregister();
    }

    protected void Completed() => _registration.Unregister();

    protected abstract void SetException(Exception exception);

    protected abstract void SetCanceled(CancellationToken cancellationToken);
}

/// <summary>A single command; an error reply becomes a <see cref="RedisServerException"/>.</summary>
internal sealed class PendingCommand : PendingRequest
{
    private readonly TaskCompletionSource<RedisValue> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PendingCommand(byte[] buffer, int length, long startTimestamp)
        : base(buffer, length, pooled: true, replyCount: 1, startTimestamp)
    {
    }

    public Task<RedisValue> Task => _completion.Task;

    public override bool IsCompleted => _completion.Task.IsCompleted;

    public override void OnReply(RedisValue value)
    {
        if (value.IsError)
        {
            _completion.TrySetException(new RedisServerException(value.AsString()!));
        }
        else
        {
            _completion.TrySetResult(value);
        }

        Completed();
    }

    protected override void SetException(Exception exception) => _completion.TrySetException(exception);

    protected override void SetCanceled(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}

/// <summary>
/// Several commands written back to back. As a plain batch the result is every reply in order (errors as values); as a
/// transaction (MULTI, the commands, EXEC) the result is EXEC's array, or null when a WATCH aborted it.
/// </summary>
internal sealed class PendingBatch : PendingRequest
{
    private readonly TaskCompletionSource<IReadOnlyList<RedisValue>?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RedisValue[] _replies;
    private readonly bool _transaction;
    private int _received;

    public PendingBatch(byte[] buffer, int length, int replyCount, bool transaction, long startTimestamp)
        : base(buffer, length, pooled: true, replyCount, startTimestamp)
    {
        _replies = new RedisValue[replyCount];
        _transaction = transaction;
    }

    public Task<IReadOnlyList<RedisValue>?> Task => _completion.Task;

    public override bool IsCompleted => _completion.Task.IsCompleted;

    public override void OnReply(RedisValue value)
    {
        // Only the reader calls this, once per reply, so no synchronization is needed.
        _replies[_received++] = value;
        if (_received < _replies.Length)
        {
            return;
        }

        if (!_transaction)
        {
            _completion.TrySetResult(_replies);
        }
        else
        {
            var exec = _replies[^1];
            if (exec.IsError)
            {
                // EXECABORT: a command was refused while queueing; its own error is the useful detail.
                var queued = Array.Find(_replies, static r => r.IsError);
                var cause = queued.IsError && queued.AsString() != exec.AsString() ? new RedisServerException(queued.AsString()!) : null;
                _completion.TrySetException(new RedisServerException(exec.AsString()!, cause));
            }
            else
            {
                _completion.TrySetResult(exec.IsNull ? null : exec.AsArray());
            }
        }

        Completed();
    }

    protected override void SetException(Exception exception) => _completion.TrySetException(exception);

    protected override void SetCanceled(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}
