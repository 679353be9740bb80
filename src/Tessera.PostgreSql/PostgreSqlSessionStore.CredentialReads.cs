using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace Tessera.PostgreSql;

// Credential reads, coalesced. Finding the session a cookie's credential names is the one statement every request
// makes, so under load many are on their way at once. Reads that arrive while one is waiting to be sent join it, and
// one statement (WHERE "tesseraCredentialHash" = ANY($1)) on one pooled connection answers them all: one round trip,
// one statement for PostgreSQL to parse and run and one connection, instead of one of each per request. This is what
// Npgsql's multiplexing did for every statement (removed in Npgsql 11), kept to the statement where it pays. A lone
// read waits only one hop through the thread pool; each caller still stops waiting when its own token is cancelled,
// and a batch that fails fails each of its reads with the same exception, as each read would have failed alone.
public sealed partial class PostgreSqlSessionStore
{
    /// <summary>At most this many credentials go into one statement; more queued reads are sent as further statements at once.</summary>
    internal const int MaxCoalescedReads = 128;

    private readonly ConcurrentQueue<PendingRead> _credentialReads = new();
    private int _credentialReadsScheduled;
    private long _credentialReadStatements;

    /// <summary>How many statements the coalesced credential reads have sent (for tests: fewer than the reads under load).</summary>
    internal long CredentialReadStatements => Interlocked.Read(ref _credentialReadStatements);

    private async ValueTask<SessionRecord?> ReadByCredentialAsync(byte[] hash, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingRead(hash);
        _credentialReads.Enqueue(pending);
        if (Interlocked.Exchange(ref _credentialReadsScheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.SendCredentialReads(), this, preferLocal: false);
        }
        return await pending.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void SendCredentialReads()
    {
        Volatile.Write(ref _credentialReadsScheduled, 0);
        while (true)
        {
            var batch = new List<PendingRead>();
            while (batch.Count < MaxCoalescedReads && _credentialReads.TryDequeue(out var pending))
            {
                batch.Add(pending);
            }
            if (batch.Count == 0)
            {
                return;
            }
            _ = RunCredentialReadsAsync(batch);
        }
    }

    private async Task RunCredentialReadsAsync(List<PendingRead> batch)
    {
        // The statement's trace (Npgsql's activity) belongs to the request that opened the batch; the work item the batch
        // runs in carries no request's context of its own.
        Activity.Current = batch[0].Activity;
        try
        {
            var found = new Dictionary<byte[], SessionRecord?>(CredentialHashComparer.Instance);
            foreach (var pending in batch)
            {
                found.TryAdd(pending.Hash, null);
            }
            Interlocked.Increment(ref _credentialReadStatements);
            // No caller's token cancels the statement others wait on; the command timeout bounds it.
            var command = await CommandAsync(_sql.LoadByHashes, idempotent: true, CancellationToken.None).ConfigureAwait(false);
            await using var commandScope = command.ConfigureAwait(false);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, Value = found.Keys.ToArray() });
            command.Parameters.Add(Time(Now()));
            var reader = await command.ReaderAsync(CommandBehavior.Default, CancellationToken.None).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                var session = ReadSession(reader, 0);
                found[session.CredentialHash] = session;
            }
            foreach (var pending in batch)
            {
                pending.Result.TrySetResult(found[pending.Hash]);
            }
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(e);
            }
        }
    }

    // Each caller goes on in a thread-pool work item of its own, so one request's work does not hold up the others'.
    private sealed class PendingRead(byte[] hash)
    {
        public byte[] Hash { get; } = hash;

        public Activity? Activity { get; } = Activity.Current;

        public TaskCompletionSource<SessionRecord?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class CredentialHashComparer : IEqualityComparer<byte[]>
    {
        public static readonly CredentialHashComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
