using System.Buffers.Binary;
using Microsoft.AspNetCore.Identity;

namespace Tessera.Demo;

/// <summary>
/// The operator password, kept in configuration only as a hash (<c>Demo:OperatorPasswordHash</c>). The hash is ASP.NET
/// Core Identity's (<see cref="PasswordHasher{TUser}"/>, part of the shared framework): PBKDF2 with HMAC-SHA512, a
/// random 128-bit salt per hash, 100,000 iterations, compared in constant time. Using Identity's format means a real
/// application can move the hash into its user store unchanged.
/// </summary>
internal static class OperatorPassword
{
    /// <summary>The command that prints a hash: <c>dotnet run --project samples/Tessera.Demo -- hash-operator-password</c>.</summary>
    public const string HashCommand = "hash-operator-password";

    /// <summary>The shortest password the command hashes: an operator can revoke every session, and the form is reachable by anyone.</summary>
    public const int MinLength = 12;

    /// <summary>The longest password the form and the command accept.</summary>
    public const int MaxLength = 256;

    // Identity's version 3 format: 0x01, then the PRF, the iteration count and the salt length as big-endian uint32s,
    // then the salt and the derived key.
    private const byte Version3 = 0x01;
    private const int HeaderLength = 13;
    private const int MinSaltBytes = 16;
    private const int MinKeyBytes = 16;
    private const int MinIterations = 100_000;

    private static readonly PasswordHasher<Operator> Hasher = new();
    private static readonly Operator TheOperator = new();

    /// <summary>A new hash of <paramref name="password"/>, different every time (a fresh salt).</summary>
    public static string Hash(string password) => Hasher.HashPassword(TheOperator, password);

    /// <summary>
    /// Whether <paramref name="password"/> is the one <paramref name="hash"/> was made from. Takes the same time for any
    /// wrong password. <paramref name="hash"/> must have passed <see cref="IsWellFormed"/> (start-up checks it).
    /// </summary>
    public static bool Verify(string hash, string password) =>
        password.Length <= MaxLength && Hasher.VerifyHashedPassword(TheOperator, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>
    /// Whether <paramref name="hash"/> is an Identity version 3 hash with at least a 128-bit salt and key and 100,000
    /// iterations: what <see cref="HashCommand"/> prints. Older, weaker Identity formats are refused.
    /// </summary>
    public static bool IsWellFormed(string hash)
    {
        var bytes = new byte[hash.Length];
        if (!Convert.TryFromBase64String(hash, bytes, out var length) || length < HeaderLength || bytes[0] != Version3)
        {
            return false;
        }
        var iterations = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5));
        var saltLength = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(9));
        return iterations >= MinIterations && saltLength >= MinSaltBytes && length - HeaderLength - saltLength >= MinKeyBytes;
    }

    /// <summary>
    /// Runs <see cref="HashCommand"/>: reads the password (twice, unechoed, from a terminal; one line when the input is
    /// redirected), prints its hash on <paramref name="output"/> and how to configure it on <paramref name="error"/>.
    /// </summary>
    /// <returns>The exit code: 0, or 1 when the password is too short, too long or the two entries differ.</returns>
    public static int RunHashCommand(TextReader input, TextWriter output, TextWriter error, bool terminal)
    {
        string? password;
        if (terminal)
        {
            password = ReadHidden(error, "Operator password: ");
            if (ReadHidden(error, "The same again: ") != password)
            {
                error.WriteLine("The two passwords differ; nothing was hashed.");
                return 1;
            }
        }
        else
        {
            password = input.ReadLine();
        }
        if (password is null || password.Length is < MinLength or > MaxLength)
        {
            error.WriteLine($"The operator password must be {MinLength} to {MaxLength} characters long; nothing was hashed.");
            return 1;
        }
        output.WriteLine(Hash(password));
        error.WriteLine("Set it as Demo:OperatorPasswordHash (for example the environment variable Demo__OperatorPasswordHash), then sign in at /admin/sign-in.");
        return 0;
    }

    private static string ReadHidden(TextWriter prompt, string text)
    {
        prompt.Write(text);
        var password = new System.Text.StringBuilder();
        while (Console.ReadKey(intercept: true) is var key && key.Key != ConsoleKey.Enter)
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                password.Length = Math.Max(0, password.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
        prompt.WriteLine();
        return password.ToString();
    }

    /// <summary>Identity's hasher is generic over a user type it never reads; the demo has one operator and no user type.</summary>
    private sealed class Operator;
}
