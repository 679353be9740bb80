namespace Tessera.Redis.Resp;

/// <summary>
/// A command could not complete because the connection to Redis failed: it could not be opened or authenticated, it
/// broke while the command was pending, or the server sent something that is not RESP. The connection reconnects by
/// itself; a later command may succeed. The message names the endpoint, never a password.
/// </summary>
public sealed class RedisConnectionException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public RedisConnectionException()
        : base("The connection to Redis failed.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public RedisConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause (a socket error, an authentication error reply, ...).</param>
    public RedisConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
