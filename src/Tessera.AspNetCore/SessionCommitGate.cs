using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tessera.AspNetCore;

/// <summary>
/// Stands in front of the server's response body so that a session with changes is committed before the first byte
/// leaves: while the request's session has uncommitted changes, what the handler writes is held here; the first flush
/// (or the end of the pipeline) commits the session and only then passes the held bytes on. A commit that fails
/// therefore fails a response that has not started, which the middleware can still answer with 503, and never a
/// response that already told the client it succeeded.
/// </summary>
/// <remarks>
/// A request whose session has no changes when it starts writing passes straight through, holding nothing (its touch,
/// if due, is committed when the response starts, as before). What is held is what the handler writes before its first
/// flush: every serializer and <c>WriteAsync</c> flushes as it goes, so this is a buffer's worth, not the response.
/// Synchronous writes are held only when the server allows synchronous I/O, as the server itself would.
/// </remarks>
internal sealed class SessionCommitGate : IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly TesseraSessionFeature _session;
    private readonly HttpContext _context;
    private GateWriter? _writer;
    private GateStream? _stream;
    private byte[]? _held; // rented from the shared pool while bytes are held, returned when they are passed on
    private int _heldCount;
    private bool _open;

    public SessionCommitGate(IHttpResponseBodyFeature inner, TesseraSessionFeature session, HttpContext context)
    {
        _inner = inner;
        _session = session;
        _context = context;
    }

    public IHttpResponseBodyFeature Inner => _inner;

    public Stream Stream => _stream ??= new GateStream(this);

    public PipeWriter Writer => _writer ??= new GateWriter(this);

    public void DisableBuffering() => _inner.DisableBuffering();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await OpenAsync(cancellationToken).ConfigureAwait(false);
        await _inner.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await OpenAsync(cancellationToken).ConfigureAwait(false);
        await _inner.SendFileAsync(path, offset, count, cancellationToken).ConfigureAwait(false);
    }

    public async Task CompleteAsync()
    {
        await OpenAsync(_context.RequestAborted).ConfigureAwait(false);
        await _inner.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the next write is held: while the session has changes to commit first. Once not, never again: writes go
    /// to the server's own body from then on.
    /// </summary>
    private bool Holding
    {
        get
        {
            if (_open)
            {
                return false;
            }
            if (_session.MustCommitBeforeResponse)
            {
                return true;
            }
            // Nothing (left) to commit first: pass on anything held and everything after it.
            Release();
            return false;
        }
    }

    /// <summary>Commits the session if it has changes, then passes on what is held. Throws what the commit throws.</summary>
    public ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        if (_open)
        {
            return ValueTask.CompletedTask;
        }
        if (!_session.MustCommitBeforeResponse)
        {
            // A read-only request (or one whose commit ran at OnStarting): nothing to wait for, so no state machine.
            Release();
            return ValueTask.CompletedTask;
        }
        return CommitThenReleaseAsync(cancellationToken);
    }

    private async ValueTask CommitThenReleaseAsync(CancellationToken cancellationToken)
    {
        await _session.CommitAsync(cancellationToken).ConfigureAwait(false);
        Release();
    }

    /// <summary>Drops what is held (the response is being replaced by an error) and passes everything through from now on.</summary>
    public void Discard()
    {
        ReturnHeld();
        _open = true;
    }

    private void Release()
    {
        _open = true;
        if (_held is not null && _heldCount > 0)
        {
            _inner.Writer.Write(_held.AsSpan(0, _heldCount));
        }
        ReturnHeld();
    }

    private void ReturnHeld()
    {
        if (_held is { } held)
        {
            _held = null;
            _heldCount = 0;
            ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> more held bytes (one if zero), as a pooled buffer.</summary>
    private Memory<byte> HeldMemory(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var needed = _heldCount + Math.Max(sizeHint, 1);
        if (_held is null || _held.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _held is null ? 4096 : _held.Length * 2));
            if (_held is not null)
            {
                _held.AsSpan(0, _heldCount).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_held);
            }
            _held = grown;
        }
        return _held.AsMemory(_heldCount);
    }

    private void AdvanceHeld(int bytes)
    {
        if (_held is null || (uint)bytes > (uint)(_held.Length - _heldCount))
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "Advanced past the memory the writer handed out.");
        }
        _heldCount += bytes;
    }

    private sealed class GateWriter(SessionCommitGate gate) : PipeWriter
    {
        private bool _lastHeld;

        private PipeWriter Inner => gate.Inner.Writer;

        public override bool CanGetUnflushedBytes => !gate._open || Inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => gate._open ? Inner.UnflushedBytes : gate._heldCount;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            _lastHeld = gate.Holding;
            return _lastHeld ? gate.HeldMemory(sizeHint) : Inner.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            _lastHeld = gate.Holding;
            return _lastHeld ? gate.HeldMemory(sizeHint).Span : Inner.GetSpan(sizeHint);
        }

        public override void Advance(int bytes)
        {
            if (_lastHeld && gate._held is not null)
            {
                gate.AdvanceHeld(bytes);
            }
            else
            {
                Inner.Advance(bytes);
            }
        }

        // Once the gate is open (or opens without a commit), the server's own flush and write are returned as they are:
        // the JSON writer flushes every response through here, and a state machine per flush is a cost no request needs.
        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var opening = gate.OpenAsync(cancellationToken);
            if (!opening.IsCompletedSuccessfully)
            {
                return FlushAfterAsync(opening, cancellationToken);
            }
            _lastHeld = false;
            return Inner.FlushAsync(cancellationToken);
        }

        private async ValueTask<FlushResult> FlushAfterAsync(ValueTask opening, CancellationToken cancellationToken)
        {
            await opening.ConfigureAwait(false);
            _lastHeld = false;
            return await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            var opening = gate.OpenAsync(cancellationToken);
            if (!opening.IsCompletedSuccessfully)
            {
                return WriteAfterAsync(opening, source, cancellationToken);
            }
            _lastHeld = false;
            return Inner.WriteAsync(source, cancellationToken);
        }

        private async ValueTask<FlushResult> WriteAfterAsync(ValueTask opening, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
        {
            await opening.ConfigureAwait(false);
            _lastHeld = false;
            return await Inner.WriteAsync(source, cancellationToken).ConfigureAwait(false);
        }

        public override void CancelPendingFlush()
        {
            if (gate._open)
            {
                Inner.CancelPendingFlush();
            }
        }

        public override void Complete(Exception? exception = null)
        {
            if (exception is null && !gate._open)
            {
                // Completing the body ends the response: commit first, as a flush would. Only a synchronous caller lands
                // here (the server's own writer has no synchronous completion of its own that could avoid this wait).
                gate.OpenAsync(gate.RequestAborted).AsTask().GetAwaiter().GetResult();
            }
            else if (exception is not null)
            {
                gate.Discard();
            }
            Inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (exception is null)
            {
                await gate.OpenAsync(gate.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                gate.Discard();
            }
            await Inner.CompleteAsync(exception).ConfigureAwait(false);
        }
    }

    private CancellationToken RequestAborted => _context.RequestAborted;

    private sealed class GateStream(SessionCommitGate gate) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (!gate.Holding)
            {
                gate.Inner.Stream.Write(buffer); // the server enforces its AllowSynchronousIO itself
                return;
            }
            if (gate._context.Features.Get<IHttpBodyControlFeature>() is { AllowSynchronousIO: false })
            {
                throw new InvalidOperationException("Synchronous operations are disallowed. Call WriteAsync or set AllowSynchronousIO to true instead.");
            }
            buffer.CopyTo(gate.HeldMemory(buffer.Length).Span);
            gate.AdvanceHeld(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await gate.OpenAsync(cancellationToken).ConfigureAwait(false);
            await gate.Inner.Stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override void Flush()
        {
            if (gate._open)
            {
                gate.Inner.Stream.Flush();
            }
            // Held bytes wait for an asynchronous flush or the end of the request, which commit first.
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            await gate.OpenAsync(cancellationToken).ConfigureAwait(false);
            await gate.Inner.Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
