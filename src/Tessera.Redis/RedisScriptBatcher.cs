using System.Collections.Concurrent;
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
            Link(batch[0], batch[0].Db.ScriptEvaluateAsync(batch[0].Script, [batch[0].Key], batch[0].Values));
            return;
        }
        foreach (var group in batch.GroupBy(p => p.Db))
        {
            var sending = group.Key.CreateBatch();
            foreach (var pending in group)
            {
                Link(pending, sending.ScriptEvaluateAsync(pending.Script, [pending.Key], pending.Values));
            }
            sending.Execute();
        }
    }

    private static void Link(Pending pending, Task<RedisResult> task) =>
        task.ContinueWith(static (t, state) =>
        {
            var result = ((Pending)state!).Result;
            if (t.IsCompletedSuccessfully)
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
        }, pending, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private sealed record Pending(IDatabase Db, string Script, RedisKey Key, RedisValue[] Values)
    {
        // Completed from Link's continuation, which StackExchange.Redis already runs on a thread-pool thread (its own
        // tasks complete their continuations asynchronously, off its reader), so the awaiting request goes on there
        // instead of taking one more hop through the thread pool.
        public TaskCompletionSource<RedisResult> Result { get; } = new();
    }
}
