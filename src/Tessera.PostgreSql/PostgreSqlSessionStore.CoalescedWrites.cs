using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;

namespace Tessera.PostgreSql;

// Request-path writes, coalesced. A request that changed its session (ApplyAsync) or slid its expiry (TouchAsync) ends
// with one single-row UPDATE, and under load many are on their way at once; each alone costs a round trip, a commit (a
// WAL flush when the server is durable) and a pooled connection. Writes that arrive while one is waiting to be sent join
// it: one NpgsqlBatch carries them to the server in one round trip and one transaction, so they share one commit.
//
// One failed statement rolls back the whole batch, so it must not decide the others' fate: when a batch fails, each of
// its writes runs again alone, in its order, and gets the outcome it would have had had it never been batched (a
// credential collision answers false to that write only; a server that is down fails each). A batch that timed out is
// the exception: its writes fail with the timeout at once, so none waits for a timeout of its own after the batch's.
// Nothing of the failed batch
// was applied (one transaction), so running them again applies each exactly once; an UPDATE that did commit before the
// connection broke applies the same values again, as the single statement's own retry on a broken connection does.
//
// The statements of a batch run in the order of their sessions' ids (writes to one session keep the order they came in),
// so two instances' batches lock rows in the same order and cannot deadlock with each other. A lone write waits one hop
// through the thread pool; each caller stops waiting at its own cancellation, and the write it queued is left to finish.
public sealed partial class PostgreSqlSessionStore
{
    /// <summary>At most this many writes go into one batch; more queued writes are sent as further batches at once.</summary>
    internal const int MaxCoalescedWrites = 64;

    private readonly ConcurrentQueue<PendingWrite> _writes = new();
    private int _writesScheduled;
    private long _writeRoundTrips;
    private volatile bool _holdWrites;

    /// <summary>How many round trips the coalesced writes have made (for tests: fewer than the writes under load).</summary>
    internal long WriteRoundTrips => Interlocked.Read(ref _writeRoundTrips);

    // Runs one single-row write statement, coalesced with the others on their way; returns the rows it changed.
    private async ValueTask<int> WriteAsync(string sql, Guid row, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingWrite(sql, row, parameters);
        if (_multiplexing)
        {
            // Npgsql's multiplexing already sends the statements that wait together.
            await RunAloneAsync(pending).ConfigureAwait(false);
        }
        else
        {
            _writes.Enqueue(pending);
            if (!_holdWrites && Interlocked.Exchange(ref _writesScheduled, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static store => store.SendWrites(), this, preferLocal: false);
            }
        }
        return await pending.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// For tests that need writes in one batch: while held, writes queue without being sent; <see cref="ReleaseWrites"/>
    /// sends what queued, in batches as a send would, and lets later writes go at once again.
    /// </summary>
    internal void HoldWrites() => _holdWrites = true;

    /// <summary>Ends <see cref="HoldWrites"/>: sends the queued writes.</summary>
    internal void ReleaseWrites()
    {
        _holdWrites = false;
        SendWrites();
    }

    private void SendWrites()
    {
        Volatile.Write(ref _writesScheduled, 0);
        SendInBatches(_writes, MaxCoalescedWrites, RunWritesAsync);
    }

    private Task RunWritesAsync(List<PendingWrite> batch)
    {
        // The statements' trace (Npgsql's activity) belongs to the request that opened the batch.
        Activity.Current = batch[0].Activity;
        return batch.Count == 1 ? RunAloneAsync(batch[0]) : RunTogetherAsync([.. batch.OrderBy(p => p.Row)]);
    }

    private async Task RunTogetherAsync(List<PendingWrite> batch)
    {
        int[] affected;
        try
        {
            Interlocked.Increment(ref _writeRoundTrips);
            var connection = await _dataSource.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
            await using var connectionScope = connection.ConfigureAwait(false);
            var statements = new NpgsqlBatch(connection) { Timeout = _commandTimeout };
            await using var statementsScope = statements.ConfigureAwait(false);
            foreach (var pending in batch)
            {
                var statement = new NpgsqlBatchCommand(pending.Sql);
                statement.Parameters.AddRange(pending.TakeParameters());
                statements.BatchCommands.Add(statement);
            }
            // Each statement of the batch is the one its write would run alone, prepared on the connection as that is.
            await statements.PrepareAsync(CancellationToken.None).ConfigureAwait(false);
            await statements.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            affected = new int[batch.Count];
            for (var i = 0; i < affected.Length; i++)
            {
                affected[i] = statements.BatchCommands[i].RecordsAffected;
            }
        }
        catch (Exception e) when (IsTimeout(e))
        {
            // Each write alone would wait a timeout of its own again, one after another: every write of the batch gets
            // this failure instead, as it would have running alone (the batch may or may not have committed).
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(e);
            }
            return;
        }
        catch (Exception e)
        {
            Log.WriteBatchRunAlone(_logger, batch.Count, e is PostgresException server ? server.SqlState : e.GetType().Name);
            foreach (var pending in batch)
            {
                await RunAloneAsync(pending).ConfigureAwait(false);
            }
            return;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Result.TrySetResult(affected[i]);
        }
    }

    // Npgsql reports a command timeout, and a pool with no connection free in time, as a TimeoutException inside.
    private static bool IsTimeout(Exception failure) => failure is TimeoutException or NpgsqlException { InnerException: TimeoutException };

    private async Task RunAloneAsync(PendingWrite pending)
    {
        try
        {
            Interlocked.Increment(ref _writeRoundTrips);
            var command = await CommandAsync(pending.Sql, idempotent: true, CancellationToken.None).ConfigureAwait(false);
            await using var commandScope = command.ConfigureAwait(false);
            command.Parameters.AddRange(pending.TakeParameters());
            pending.Result.TrySetResult(await command.ExecuteAsync(CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception e)
        {
            pending.Result.TrySetException(e);
        }
    }

    // A write on its way: its statement, the row it changes and what it binds.
    private sealed class PendingWrite(string sql, Guid row, NpgsqlParameter[] parameters)
    {
        private bool _parametersTaken;

        public string Sql { get; } = sql;

        public Guid Row { get; } = row;

        public Activity? Activity { get; } = Activity.Current;

        // The caller goes on in a thread-pool work item of its own, so one request's work does not hold up the others'.
        public TaskCompletionSource<int> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // A parameter belongs to one command: the first statement takes the originals, a run alone after a failed batch
        // takes copies.
        public NpgsqlParameter[] TakeParameters()
        {
            if (!_parametersTaken)
            {
                _parametersTaken = true;
                return parameters;
            }
            return [.. parameters.Select(p => p.Clone())];
        }
    }
}
