using System.Globalization;

namespace Tessera.Benchmarks;

/// <summary>The few <c>--name value</c> options of the measuring modes.</summary>
internal static class Arguments
{
    public static int Int(string[] args, string name, int fallback) =>
        Value(args, name) is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

    public static bool Flag(string[] args, string name) => args.Contains(name, StringComparer.Ordinal);

    public static string? Value(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        if (index < 0)
        {
            return null;
        }
        if (index + 1 >= args.Length)
        {
            throw new ArgumentException($"{name} needs a value.");
        }
        return args[index + 1];
    }
}
