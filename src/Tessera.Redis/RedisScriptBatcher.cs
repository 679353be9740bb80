using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Tessera.Redis;

/// <summary>
/// Sends the store's concurrent request-path scripts together (credential and token lookups, session writes): scripts
/// that arrive while a send is pending join it, and one StackExchange.Redis batch writes them all in one go, in the
/// order they arrived. Under load (many requests in flight) that turns one socket write per script into one per batch,
/// on the app and on Redis alike; a lone script waits only for one hop through the thread pool.
/// </summary>
internal sealed class RedisScriptBatcher
{
    // Each script's SHA-1, keyed by the script's own string instance (the store's scripts are constants): sent as EVALSHA
    // with the hash, so no call hashes or looks up the script's text (StackExchange.Redis's text overload does both, on a
    // 2 KB text, for every call). A server that does not know the script (restarted, SCRIPT FLUSH) answers NOSCRIPT,
    // and that one call is sent again as text, which loads it.
    private static readonly ConcurrentDictionary<string, byte[]> Hashes = new(ReferenceEqualityComparer.Instance);

    private readonly ConcurrentQueue<Pending> _queue = new();
    private int _scheduled;

    /// <summary>Runs <paramref name="script"/> on <paramref name="db"/>, batched with the other reads waiting now.</summary>
    public Task<RedisResult> EvaluateAsync(IDatabase db, string script, RedisKey key, RedisValue[] values)
    {
        var pending = new Pending(db, script, key, values);
        _queue.Enqueue(pending);
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static batcher => batcher.Send(), this, preferLocal: false);
        }
        return pending.Result.Task;
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
            Link(batch[0], batch[0].Db.ScriptEvaluateAsync(HashOf(batch[0].Script), [batch[0].Key], batch[0].Values));
            return;
        }
        foreach (var group in batch.GroupBy(p => p.Db))
        {
            var sending = group.Key.CreateBatch();
            foreach (var pending in group)
            {
                Link(pending, sending.ScriptEvaluateAsync(HashOf(pending.Script), [pending.Key], pending.Values));
            }
            sending.Execute();
        }
    }

    private static byte[] HashOf(string script) =>
        Hashes.GetOrAdd(script, static text => SHA1.HashData(Encoding.UTF8.GetBytes(text)));

    private static bool IsNoScript(Task task) =>
        task.Exception?.InnerException is RedisServerException e && e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal);

    private static void Link(Pending pending, Task<RedisResult> task, bool byHash = true) =>
        task.ContinueWith(static (t, state) =>
        {
            var (pending, byHash) = ((Pending, bool))state!;
            var result = pending.Result;
            if (byHash && t.IsFaulted && IsNoScript(t))
            {
                Link(pending, pending.Db.ScriptEvaluateAsync(pending.Script, [pending.Key], pending.Values), byHash: false);
            }
            else if (t.IsCompletedSuccessfully)
            {
                result.TrySetResult(t.Result);
            }
            else if (t.IsCanceled)
            {
                result.TrySetCanceled();
            }
            else
            {
                result.TrySetException(t.Exception!.InnerExceptions);
            }
        }, (pending, byHash), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private sealed record Pending(IDatabase Db, string Script, RedisKey Key, RedisValue[] Values)
    {
        public TaskCompletionSource<RedisResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
