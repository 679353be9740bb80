using StackExchange.Redis;

namespace Tessera.Redis;

// The generated key ring (UseDataProtectionKeys): one hash, P:keyring, with the version (v) and the document (d), saved
// by a compare-and-swap script. Read once an hour per instance and written rarely, so it goes around the script batcher.
public sealed partial class RedisSessionStore : IKeyRingStore
{
    private const string SaveKeyRingScript = """
        local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
        if v ~= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
        return 1
        """;

    private RedisKey KeyRingKey => _prefix + ":keyring";

    /// <inheritdoc />
    public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        var key = KeyRingKey;
        var reply = (RedisResult[])(await ReadAsync(static (db, key) => db.ScriptEvaluateAsync("return redis.call('HMGET', KEYS[1], 'v', 'd')", [key]), key, cancellationToken).ConfigureAwait(false))!;
        return reply[0].IsNull || reply[1].IsNull ? null : new StoredKeyRing((long)reply[0], (string)reply[1]!);
    }

    /// <inheritdoc />
    /// <remarks>One Lua script on the key's slot: the version is compared and the document written atomically.</remarks>
    public async ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var saved = await db.ScriptEvaluateAsync(SaveKeyRingScript, [KeyRingKey], [expectedVersion, document]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)saved == 1;
    }
}
