using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Tessera.Redis;

/// <summary>
/// Sends the store's concurrent request-path scripts and reads together (credential and token lookups, session reads
/// and writes): those that arrive while a send is pending join it, and one StackExchange.Redis batch writes them all in
/// one go, in the order they arrived. Under load (many requests in flight) that turns one socket write per request into
/// one per batch, on the app and on Redis alike; a lone one waits only for one hop through the thread pool.
/// </summary>
/// <remarks>
/// A lookup that names a combined form (<see cref="RedisScripts.LoadByCredentials"/>, <see cref="RedisScripts.LoadTokens"/>) goes further where the server
/// allows it: the lookups of one batch run as one script, up to <see cref="MaxCombined"/> at a time, so Redis makes one
/// script call for them instead of one each. They run after the batch's other scripts, which were in flight at the same
/// time. Not on a Redis Cluster or behind a proxy, where one script may touch one slot only: there each runs alone.
/// </remarks>
internal sealed class RedisRequestBatcher
{
    /// <summary>At most this many lookups share one combined script, so none keeps Redis busy for long.</summary>
    internal const int MaxCombined = 64;

    private readonly ConcurrentQueue<Pending> _queue = new();
    private int _scheduled;
    private long _combinedScripts;

    /// <summary>How many combined scripts were sent (each served two lookups or more), of every combined form; for tests.</summary>
    internal long CombinedScripts => Interlocked.Read(ref _combinedScripts);

    /// <summary>
    /// Runs <paramref name="script"/> on <paramref name="db"/>, batched with the other scripts waiting now.
    /// <paramref name="combined"/>, when given, is the same lookup for many keys at once: KEYS are the lookups' keys, ARGV
    /// the lookups' <paramref name="combinedValues"/> one after the other (the same count for each lookup of that script),
    /// and it replies with one entry per key, each what <paramref name="script"/> would have answered.
    /// </summary>
    public Task<RedisResult> EvaluateAsync(IDatabase db, string script, RedisKey key, RedisValue[] values, string? combined = null, RedisValue[]? combinedValues = null)
    {
        if ((combined is null) != (combinedValues is null))
        {
            throw new ArgumentException("A combined form needs its values, and values need a combined form.", nameof(combinedValues));
        }
        var result = new TaskCompletionSource<RedisResult>();
        Enqueue(new Pending(db, script, key, values, combined, combinedValues) { Result = result });
        return result.Task;
    }

    /// <summary>
    /// Reads the hash at <paramref name="key"/> (<c>HGETALL</c>), batched with the scripts and reads waiting now; an
    /// empty array when there is no such key.
    /// </summary>
    public Task<HashEntry[]> HashGetAllAsync(IDatabase db, RedisKey key)
    {
        var hash = new TaskCompletionSource<HashEntry[]>();
        Enqueue(new Pending(db, "", key, [], null, null) { Hash = hash });
        return hash.Task;
    }

    private void Enqueue(Pending pending)
    {
        _queue.Enqueue(pending);
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static batcher => batcher.Send(), this, preferLocal: false);
        }
    }

    private void Send()
    {
        Volatile.Write(ref _scheduled, 0);
        var batch = new List<Pending>();
        while (_queue.TryDequeue(out var pending))
        {
            batch.Add(pending);
        }
        if (batch.Count == 0)
        {
            return;
        }
        if (batch.Count == 1)
        {
            Attach(SendAlone(batch[0].Db, batch[0]));
            return;
        }
        foreach (var group in batch.GroupBy(p => p.Db))
        {
            var sending = group.Key.CreateBatch();
            var sent = new List<Sent>();
            Dictionary<string, List<Pending>>? combinable = null;
            foreach (var pending in group)
            {
                if (pending.Combined is { } combined)
                {
                    combinable ??= new(StringComparer.Ordinal);
                    if (!combinable.TryGetValue(combined, out var lookups))
                    {
                        combinable[combined] = lookups = [];
                    }
                    lookups.Add(pending);
                    continue;
                }
                sent.Add(SendAlone(sending, pending));
            }
            if (combinable is not null)
            {
                var mayCombine = MayCombine(group.Key.Multiplexer);
                foreach (var (combined, lookups) in combinable)
                {
                    Send(sending, combined, lookups, mayCombine, sent);
                }
            }
            sending.Execute();
            CompleteTogether(sent);
        }
    }

    private void Send(IBatch sending, string combined, List<Pending> lookups, bool mayCombine, List<Sent> sent)
    {
        foreach (var chunk in lookups.Chunk(mayCombine ? MaxCombined : 1))
        {
            if (chunk.Length == 1)
            {
                sent.Add(SendAlone(sending, chunk[0]));
                continue;
            }
            var keys = new RedisKey[chunk.Length];
            var values = new List<RedisValue>(chunk.Length * chunk[0].CombinedValues!.Length);
            for (var i = 0; i < chunk.Length; i++)
            {
                keys[i] = chunk[i].Key;
                values.AddRange(chunk[i].CombinedValues!);
            }
            Interlocked.Increment(ref _combinedScripts);
            sent.Add(new Sent(sending.ScriptEvaluateAsync(combined, keys, [.. values]), null, chunk));
        }
    }

    private static Sent SendAlone(IDatabaseAsync sending, Pending pending) =>
        new(pending.Hash is not null
            ? sending.HashGetAllAsync(pending.Key)
            : sending.ScriptEvaluateAsync(pending.Script, [pending.Key], pending.Values), pending, null);

    // One script may touch several slots only on a server that has no slots: a single node, or a primary behind Sentinel.
    // A cluster, a proxy in front of one, or a server whose kind is not known yet gets one script per lookup.
    private static bool MayCombine(IConnectionMultiplexer multiplexer)
    {
        var servers = multiplexer.GetServers();
        foreach (var server in servers)
        {
            if (server.ServerType is not (ServerType.Standalone or ServerType.Sentinel))
            {
                return false;
            }
        }
        return servers.Length > 0;
    }

    // A batch's replies arrive on one connection in the order it was sent, and StackExchange.Redis completes each before
    // it reads the next; it runs a task's continuations on the thread pool. So only the last reply gets a continuation
    // (one thread-pool hop for the whole batch, not one per request), and the replies before it, complete by then,
    // are handed on from there. One that is not (a cluster's batch spans several connections) gets its own.
    private static void CompleteTogether(List<Sent> sent)
    {
        if (sent.Count == 1)
        {
            Attach(sent[0]);
            return;
        }
        sent[^1].Reply.ContinueWith(static (_, state) =>
        {
            foreach (var each in (List<Sent>)state!)
            {
                if (each.Reply.IsCompleted)
                {
                    Deliver(each);
                }
                else
                {
                    Attach(each);
                }
            }
        }, sent, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static void Attach(Sent sent) =>
        sent.Reply.ContinueWith(static (_, state) => Deliver((Sent)state!), sent, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    // Completes the waiting requests of a reply that has arrived; each request goes on in this thread, one after another.
    private static void Deliver(Sent sent)
    {
        var reply = sent.Reply;
        if (sent.One is { Hash: { } hash })
        {
            if (reply.IsCompletedSuccessfully)
            {
                hash.TrySetResult(((Task<HashEntry[]>)reply).Result);
            }
            else
            {
                Fail(hash, reply);
            }
            return;
        }
        if (sent.One is { } one)
        {
            if (reply.IsCompletedSuccessfully)
            {
                one.Result!.TrySetResult(((Task<RedisResult>)reply).Result);
            }
            else
            {
                Fail(one.Result!, reply);
            }
            return;
        }
        var lookups = sent.Many!;
        if (!reply.IsCompletedSuccessfully)
        {
            foreach (var pending in lookups)
            {
                Fail(pending.Result!, reply);
            }
            return;
        }
        var replies = (RedisResult[]?)((Task<RedisResult>)reply).Result;
        for (var i = 0; i < lookups.Length; i++)
        {
            if (replies is not null && i < replies.Length)
            {
                lookups[i].Result!.TrySetResult(replies[i]);
            }
            else
            {
                lookups[i].Result!.TrySetException(new RedisException($"The combined lookup answered {replies?.Length ?? 0} entries for {lookups.Length} keys."));
            }
        }
    }

    private static void Fail<T>(TaskCompletionSource<T> result, Task task)
    {
        if (task.IsCanceled)
        {
            result.TrySetCanceled();
        }
        else
        {
            result.TrySetException(task.Exception!.InnerExceptions);
        }
    }

    // What one send of a batch answers: the reply of one request (One) or of a combined lookup (Many, in key order).
    // Reply is a Task<HashEntry[]> for a hash read (One.Hash set), else a Task<RedisResult>.
    private sealed record Sent(Task Reply, Pending? One, Pending[]? Many);

    // A script to run (Result set), or a hash to read (Hash set; Script is empty, Key the hash).
    // Either is completed from Deliver, which runs in a continuation StackExchange.Redis already runs on a thread-pool
    // thread (its own tasks complete their continuations asynchronously, off its reader), so the awaiting request goes
    // on there instead of taking one more hop through the thread pool.
    private sealed record Pending(IDatabase Db, string Script, RedisKey Key, RedisValue[] Values, string? Combined, RedisValue[]? CombinedValues)
    {
        public TaskCompletionSource<RedisResult>? Result { get; init; }

        public TaskCompletionSource<HashEntry[]>? Hash { get; init; }
    }
}
