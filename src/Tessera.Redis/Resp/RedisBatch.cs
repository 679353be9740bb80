namespace Tessera.Redis.Resp;

/// <summary>
/// Commands to send back to back, with nothing from other callers between them: pass it to
/// <see cref="RedisConnection.ExecuteBatchAsync"/> (pipelined, not atomic) or <see cref="RedisConnection.ExecuteTransactionAsync"/>
/// (wrapped in MULTI/EXEC, atomic). Arguments are encoded when added, so the caller may reuse its arrays at once. A batch
/// can be executed more than once; it is not thread-safe while being built.
/// </summary>
public sealed class RedisBatch
{
    private byte[] _buffer = [];
    private int _length;

    /// <summary>The number of commands added.</summary>
    public int Count { get; private set; }

    internal ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    /// <summary>Adds a command.</summary>
    /// <param name="command">The command name, for example <c>HSET</c>.</param>
    /// <param name="args">Its arguments.</param>
    /// <returns>This batch, to chain calls.</returns>
    /// <exception cref="ArgumentException">The command name is empty or an argument is null.</exception>
    /// <exception cref="NotSupportedException">The command would change the shared connection's state (<c>SELECT</c>, <c>SUBSCRIBE</c>, ...).</exception>
    public RedisBatch Add(string command, params ReadOnlySpan<RedisArg> args)
    {
        RespWriter.ThrowIfConnectionStateCommand(command);
        var size = RespWriter.Measure(command, args);
        if (_buffer.Length - _length < size)
        {
            var larger = new byte[Math.Max(checked(_length + size), Math.Max(256, _buffer.Length * 2))];
            _buffer.AsSpan(0, _length).CopyTo(larger);
            _buffer = larger;
        }

        _length += RespWriter.Write(_buffer.AsSpan(_length), command, args);
        Count++;
        return this;
    }

    /// <summary>Removes every command, keeping the buffer for reuse.</summary>
    public void Clear()
    {
        _buffer.AsSpan(0, _length).Clear(); // arguments can be secrets; do not leave them lying in memory
        _length = 0;
        Count = 0;
    }
}
