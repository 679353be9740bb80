using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite;

/// <summary>
/// Group commit for one store's writes. SQLite has one writer at a time, and a transaction costs its lock, its WAL
/// frames and its commit whatever it holds; so writes that arrive while another is running wait in a queue, and the
/// next transaction takes up to <see cref="MaxBatch"/> of them at once, each inside a savepoint of its own, or, for a
/// write of one statement, inside that statement's own atomicity.
/// </summary>
/// <remarks>
/// <para>
/// A write whose work throws is rolled back to its savepoint and fails alone; the others of its transaction go on. A
/// write declared to be one statement runs without <c>SAVEPOINT</c> and <c>RELEASE</c> around it: SQLite undoes a failed
/// statement's changes itself and the transaction goes on, unless the error rolled back the whole transaction, which
/// the writer then sees and treats as below. A
/// caller learns its outcome only after the transaction committed, so a reported success is as durable as a
/// transaction of its own would have been (WAL, <c>synchronous=NORMAL</c>). When the transaction as a whole fails (its
/// commit, or a rollback to a savepoint, after which SQLite has rolled everything back), every write of it that had not
/// failed on its own runs again alone, in a transaction of its own, and gets that run's outcome: nothing is reported
/// written that is not, and no write is lost because a neighbour failed.
/// </para>
/// <para>
/// There is no writer thread: the caller that finds no transaction running runs one on its own thread (SQLite's
/// calls are synchronous anyway), and when writes queued meanwhile, hands them to the thread pool, which keeps draining
/// while the queue is not empty. A write waits at most <c>waitLimit</c> before its transaction starts, then fails with a
/// <see cref="TimeoutException"/> having written nothing; a caller cancelled while its write is queued gets an
/// <see cref="OperationCanceledException"/>, and the write never runs. Once running, a write ends with its own outcome.
/// </para>
/// </remarks>
internal sealed class SqliteGroupCommit(Func<CancellationToken, ValueTask<SqliteConnection>> open, TimeSpan waitLimit) : IDisposable
{
    /// <summary>The most writes one transaction takes: enough to amortise a commit, few enough to keep one short.</summary>
    internal const int MaxBatch = 64;

    private readonly ConcurrentQueue<Write> _queue = new();
    private readonly Lock _writerGate = new();
    private SqliteWriter? _writer; // the open write connection between transactions; null while one runs
    private bool _closed;
    private int _draining;
    private long _transactions;
    private long _statementsCompiled;

    /// <summary>The transactions begun so far (a write that ran again alone counts its own).</summary>
    internal long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>The statements the write connections compiled so far (each once per connection).</summary>
    internal long StatementsCompiled => Interlocked.Read(ref _statementsCompiled);

    /// <summary>The writes waiting for a transaction.</summary>
    internal int Queued => _queue.Count;

    public async ValueTask<TResult> RunAsync<TState, TResult>(
        SqliteSessionStore store,
        TState state,
        Func<SqliteSessionStore, SqliteWriter, TState, CancellationToken, ValueTask<TResult>> work,
        bool oneStatement,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var write = new Write<TState, TResult>(store, state, work, oneStatement, cancellationToken);
        _queue.Enqueue(write);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            await DrainAsync(handOff: true).ConfigureAwait(false);
        }
        if (!write.Outcome.IsCompleted)
        {
            try
            {
                return await write.Outcome.WaitAsync(waitLimit, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException && !write.Outcome.IsCompleted)
            {
                if (write.TryAbandon())
                {
                    if (e is TimeoutException)
                    {
                        throw new TimeoutException($"The SQLite session store waited more than {waitLimit} for its other writers.", e);
                    }
                    throw;
                }
                // Too late to abandon: the write is running, and its own outcome is the answer.
            }
        }
        return await write.Outcome.ConfigureAwait(false);
    }

    // Runs one transaction; the caller that ran it inline hands what queued meanwhile to the thread pool, so its own
    // request is not held up serving others.
    private async Task DrainAsync(bool handOff)
    {
        while (true)
        {
            try
            {
                await RunBatchAsync().ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref _draining, 0);
            }
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
            if (handOff)
            {
                // The caller's context (its Activity, its log scope) stays with the caller.
                using (ExecutionContext.SuppressFlow())
                {
                    _ = Task.Run(() => DrainAsync(handOff: false));
                }
                return;
            }
        }
    }

    private async Task RunBatchAsync()
    {
        var batch = new List<Write>();
        while (batch.Count < MaxBatch && _queue.TryDequeue(out var write))
        {
            if (write.TryStart())
            {
                batch.Add(write);
            }
        }
        try
        {
            if (batch.Count > 0)
            {
                foreach (var alone in await RunTransactionAsync(batch).ConfigureAwait(false))
                {
                    await RunTransactionAsync([alone]).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e)
        {
            // Only disposal can land here; a write still without an outcome gets this one, so no caller waits forever.
            batch.ForEach(w => w.Fail(e));
        }
    }

    // One BEGIN IMMEDIATE transaction for the batch. Returns the writes to run again alone (only when a batch of more
    // than one lost its transaction); every other write has its outcome set. The writer goes back for the next
    // transaction unless this one ended in a way that leaves its connection's state in doubt.
    private async Task<List<Write>> RunTransactionAsync(List<Write> batch)
    {
        Interlocked.Increment(ref _transactions);
        SqliteWriter writer;
        try
        {
            writer = TakeWriter() ?? new SqliteWriter(await open(CancellationToken.None).ConfigureAwait(false), () => Interlocked.Increment(ref _statementsCompiled));
        }
        catch (Exception e)
        {
            batch.ForEach(w => w.Fail(e));
            return [];
        }
        var healthy = false;
        try
        {
            try
            {
                writer.Begin();
            }
            catch (Exception e)
            {
                batch.ForEach(w => w.Fail(e)); // SQLITE_BUSY past the busy timeout: the writes of another process hold the lock
                return [];
            }
            var (again, committed) = await RunInAsync(writer, batch).ConfigureAwait(false);
            healthy = committed || batch.Count == 1;
            return again;
        }
        finally
        {
            healthy &= TryEnd(writer);
            if (healthy)
            {
                ReturnWriter(writer);
            }
            else
            {
                writer.Dispose();
            }
        }
    }

    // Returns the writes to run again alone and whether the transaction committed.
    private static async Task<(List<Write> Again, bool Committed)> RunInAsync(SqliteWriter writer, List<Write> batch)
    {
        var grouped = batch.Count > 1;
        var done = new List<Write>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var write = batch[i];
            var savepoint = grouped && !write.OneStatement;
            try
            {
                if (savepoint)
                {
                    writer.Save();
                }
                await write.RunAsync(writer).ConfigureAwait(false);
                if (savepoint)
                {
                    writer.Release();
                }
                done.Add(write);
            }
            catch (Exception e)
            {
                write.Fail(e);
                if (!grouped)
                {
                    return ([], false);
                }
                if (savepoint ? !TryRollBack(writer) : !writer.InTransaction)
                {
                    return ([.. done, .. batch.Skip(i + 1)], false);
                }
            }
        }
        try
        {
            writer.Commit();
        }
        catch (Exception) when (grouped)
        {
            return (done, false); // SQLite rolled the transaction back: each write runs again alone
        }
        catch (Exception e)
        {
            done.ForEach(w => w.Fail(e));
            return ([], false);
        }
        done.ForEach(w => w.Complete());
        return ([], true);
    }

    // Undoes the failed write's changes; false when the transaction itself is gone (SQLite rolls back the whole
    // transaction after some errors, such as a full disk or an I/O error).
    private static bool TryRollBack(SqliteWriter writer)
    {
        if (!writer.InTransaction)
        {
            return false;
        }
        try
        {
            writer.RollbackToSavepoint();
            return true;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    // Rolls back what did not commit; false when even that failed (the connection is closed then).
    private static bool TryEnd(SqliteWriter writer)
    {
        try
        {
            writer.Rollback();
            return true;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    private SqliteWriter? TakeWriter()
    {
        lock (_writerGate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            var writer = _writer;
            _writer = null;
            return writer;
        }
    }

    private void ReturnWriter(SqliteWriter writer)
    {
        lock (_writerGate)
        {
            if (!_closed)
            {
                _writer = writer;
                return;
            }
        }
        writer.Dispose(); // the store was disposed while this transaction ran
    }

    /// <summary>Closes the write connection (now, or when the transaction running holds it ends).</summary>
    public void Dispose()
    {
        SqliteWriter? writer;
        lock (_writerGate)
        {
            _closed = true;
            writer = _writer;
            _writer = null;
        }
        writer?.Dispose();
    }

    private abstract class Write
    {
        private const int Queued = 0;
        private const int Running = 1;
        private const int Abandoned = 2;
        private int _state;

        // Whether the work runs exactly one statement, which SQLite makes atomic on its own: such a write needs no
        // savepoint (a statement that fails leaves nothing behind, or takes the whole transaction with it).
        public abstract bool OneStatement { get; }

        // Queued to running, unless the caller gave up first (or its token was cancelled before its turn).
        public bool TryStart()
        {
            if (Interlocked.CompareExchange(ref _state, Running, Queued) != Queued)
            {
                return false;
            }
            if (CancellationToken.IsCancellationRequested)
            {
                Cancel();
                return false;
            }
            return true;
        }

        // Queued to abandoned: true when the write will never run.
        public bool TryAbandon() => Interlocked.CompareExchange(ref _state, Abandoned, Queued) == Queued;

        protected abstract CancellationToken CancellationToken { get; }

        public abstract ValueTask RunAsync(SqliteWriter writer);

        public abstract void Complete();

        public abstract void Fail(Exception exception);

        protected abstract void Cancel();
    }

    private sealed class Write<TState, TResult>(
        SqliteSessionStore store,
        TState state,
        Func<SqliteSessionStore, SqliteWriter, TState, CancellationToken, ValueTask<TResult>> work,
        bool oneStatement,
        CancellationToken cancellationToken) : Write
    {
        private readonly TaskCompletionSource<TResult> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TResult? _result;

        public Task<TResult> Outcome => _outcome.Task;

        public override bool OneStatement => oneStatement;

        protected override CancellationToken CancellationToken => cancellationToken;

        public override async ValueTask RunAsync(SqliteWriter writer) =>
            _result = await work(store, writer, state, cancellationToken).ConfigureAwait(false);

        public override void Complete() => _outcome.TrySetResult(_result!);

        public override void Fail(Exception exception)
        {
            if (exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                _outcome.TrySetCanceled(cancellationToken);
            }
            else
            {
                _outcome.TrySetException(exception);
            }
        }

        protected override void Cancel() => _outcome.TrySetCanceled(cancellationToken);
    }
}
