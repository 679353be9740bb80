using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using Tessera.Tokens;

namespace Tessera.PostgreSql;

// Per-request reads, coalesced. Finding the session a cookie's credential names, or the access token a bearer request
// presents, is the one statement every request makes, so under load many are on their way at once. Reads that arrive
// while one is waiting to be sent join it, and one statement (WHERE ... = ANY($1)) on one pooled connection answers them
// all: one round trip, one statement for PostgreSQL to parse and run and one connection, instead of one of each per
// request. This is what Npgsql's multiplexing did for every statement (removed in Npgsql 11), kept to the statements
// where it pays. A lone read waits only one hop through the thread pool; each caller still stops waiting when its own
// token is cancelled, and a batch that fails fails each of its reads with the same exception, as each read would have
// failed alone.
public sealed partial class PostgreSqlSessionStore
{
    /// <summary>At most this many keys go into one statement; more queued reads are sent as further statements at once.</summary>
    internal const int MaxCoalescedReads = 128;

    private readonly CoalescedReads<byte[], SessionRecord> _credentialReads;
    private readonly CoalescedReads<Guid, TokenLookup> _accessTokenReads;

    /// <summary>How many statements the coalesced credential reads have sent (for tests: fewer than the reads under load).</summary>
    internal long CredentialReadStatements => _credentialReads.Statements;

    /// <summary>How many statements the coalesced access-token reads have sent.</summary>
    internal long AccessTokenReadStatements => _accessTokenReads.Statements;

    private CoalescedReads<byte[], SessionRecord> CoalesceCredentialReads() => new(CredentialHashComparer.Instance, async (hashes, found) =>
    {
        // No caller's token cancels the statement others wait on; the command timeout bounds it.
        var command = await CommandAsync(_sql.LoadByHashes, idempotent: true, CancellationToken.None).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, Value = hashes });
        command.Parameters.Add(Time(Now()));
        var reader = await command.ReaderAsync(CommandBehavior.Default, CancellationToken.None).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var session = ReadSession(reader, 0);
            found[session.CredentialHash] = session;
        }
    });

    private CoalescedReads<Guid, TokenLookup> CoalesceAccessTokenReads() => new(EqualityComparer<Guid>.Default, async (keys, found) =>
    {
        var command = await CommandAsync(_sql.LoadTokens, idempotent: true, CancellationToken.None).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, Value = keys });
        var reader = await command.ReaderAsync(CommandBehavior.Default, CancellationToken.None).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // The row's id maps back to the key it was stored under (a text id through its hash).
            var lookup = ReadTokenLookup(reader);
            found[MapId(lookup.Token.Id).Key] = lookup;
        }
    });

    // Empties the queue in batches of at most max, each handed to run and left to finish on its own; a send work item
    // of the coalesced reads and writes. Whatever is queued after the last dequeue schedules a send of its own.
    private static void SendInBatches<T>(ConcurrentQueue<T> queue, int max, Func<List<T>, Task> run)
    {
        while (true)
        {
            var batch = new List<T>();
            while (batch.Count < max && queue.TryDequeue(out var item))
            {
                batch.Add(item);
            }
            if (batch.Count == 0)
            {
                return;
            }
            _ = run(batch);
        }
    }

    // One kind of coalesced read: a key per caller, one statement per batch of keys, each caller answered from the rows.
    private sealed class CoalescedReads<TKey, TResult>(IEqualityComparer<TKey> comparer, Func<TKey[], Dictionary<TKey, TResult>, Task> readAll)
        where TKey : notnull
        where TResult : class
    {
        private readonly ConcurrentQueue<Pending> _queue = new();
        private int _scheduled;
        private long _statements;

        public long Statements => Interlocked.Read(ref _statements);

        public async ValueTask<TResult?> ReadAsync(TKey key, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pending = new Pending(key);
            _queue.Enqueue(pending);
            if (Interlocked.Exchange(ref _scheduled, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static reads => reads.Send(), this, preferLocal: false);
            }
            return await pending.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        private void Send()
        {
            Volatile.Write(ref _scheduled, 0);
            SendInBatches(_queue, MaxCoalescedReads, RunAsync);
        }

        private async Task RunAsync(List<Pending> batch)
        {
            // The statement's trace (Npgsql's activity) belongs to the request that opened the batch; the work item the
            // batch runs in carries no request's context of its own.
            Activity.Current = batch[0].Activity;
            try
            {
                var found = new Dictionary<TKey, TResult>(comparer);
                Interlocked.Increment(ref _statements);
                await readAll([.. batch.Select(p => p.Key).Distinct(comparer)], found).ConfigureAwait(false);
                foreach (var pending in batch)
                {
                    pending.Result.TrySetResult(found.GetValueOrDefault(pending.Key));
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
        private sealed class Pending(TKey key)
        {
            public TKey Key { get; } = key;

            public Activity? Activity { get; } = Activity.Current;

            public TaskCompletionSource<TResult?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
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
