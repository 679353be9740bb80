namespace Tessera.Redis.Resp;

/// <summary>The type of a <see cref="RedisValue"/> as the server sent it. RESP3-only types appear only if a server sends them.</summary>
public enum RedisValueKind
{
    /// <summary>RESP3 null (<c>_</c>); a RESP2 null bulk string or null array keeps its own kind with <see cref="RedisValue.IsNull"/> set.</summary>
    Null = 0,

    /// <summary>A simple string (<c>+OK</c>).</summary>
    SimpleString,

    /// <summary>An error reply (<c>-ERR ...</c>); at the top level of a command it is thrown as <see cref="RedisServerException"/>.</summary>
    Error,

    /// <summary>A 64-bit integer (<c>:1</c>).</summary>
    Integer,

    /// <summary>A binary-safe bulk string (<c>$3 foo</c>), possibly null (<c>$-1</c>).</summary>
    BulkString,

    /// <summary>An array of values (<c>*2 ...</c>), possibly null (<c>*-1</c>) or nested.</summary>
    Array,

    /// <summary>RESP3 double (<c>,1.5</c>).</summary>
    Double,

    /// <summary>RESP3 boolean (<c>#t</c>).</summary>
    Boolean,

    /// <summary>RESP3 big number (<c>(123...</c>), kept as text.</summary>
    BigNumber,

    /// <summary>RESP3 map (<c>%</c>), exposed as a flat array of keys and values.</summary>
    Map,

    /// <summary>RESP3 set (<c>~</c>), exposed as an array.</summary>
    Set,

    /// <summary>RESP3 push message (<c>&gt;</c>), out of band; the connection ignores these.</summary>
    Push,
}
